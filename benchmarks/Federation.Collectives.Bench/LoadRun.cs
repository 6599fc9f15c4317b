using System.Diagnostics;
using System.Globalization;
using Federation.Core.Transport.Messaging;

namespace Federation.Collectives.Bench;

/// <summary>
/// A closed-loop request/reply run: at most <c>concurrency</c> requests outstanding, each reply matched to its request by the
/// last token of its reply subject (<c>&lt;prefix&gt;.&lt;index&gt;</c>), latency measured from publish to reply.
/// </summary>
internal sealed class LoadRun
{
    private readonly long[] _sentAt;
    private readonly double[] _latencyMs;
    private readonly SemaphoreSlim _window;
    private readonly TaskCompletionSource _allReplied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _prefixLength;
    private int _replied;
    private int _duplicates;

    public LoadRun(int requests, int concurrency, string replyPrefix)
    {
        _sentAt = new long[requests];
        _latencyMs = new double[requests];
        _window = new SemaphoreSlim(concurrency, concurrency);
        ReplyPrefix = replyPrefix;
        _prefixLength = replyPrefix.Length + 1;
    }

    /// <summary>Replies arrive on <c>&lt;ReplyPrefix&gt;.&lt;index&gt;</c>.</summary>
    public string ReplyPrefix { get; }

    public int Requests => _sentAt.Length;

    /// <summary>The reply subscription's handler.</summary>
    public ValueTask OnReplyAsync(SubjectMessage reply, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        var index = int.Parse(reply.Subject.AsSpan(_prefixLength), NumberStyles.None, CultureInfo.InvariantCulture);
        if (_latencyMs[index] != 0)
        {
            Interlocked.Increment(ref _duplicates);
            return ValueTask.CompletedTask;
        }

        _latencyMs[index] = Stopwatch.GetElapsedTime(_sentAt[index], now).TotalMilliseconds;
        _window.Release();
        if (Interlocked.Increment(ref _replied) == Requests)
        {
            _allReplied.TrySetResult();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends every request through <paramref name="send"/> and waits for the replies, or for <paramref name="deadline"/>.</summary>
    public async Task<RunResult> ExecuteAsync(string name, Func<int, string, ValueTask> send, TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        var started = Stopwatch.GetTimestamp();
        try
        {
            for (var i = 0; i < Requests; i++)
            {
                await _window.WaitAsync(timeout.Token);
                _sentAt[i] = Stopwatch.GetTimestamp();
                await send(i, string.Create(CultureInfo.InvariantCulture, $"{ReplyPrefix}.{i}"));
            }

            await _allReplied.Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // reported as lost below
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var replied = Volatile.Read(ref _replied);
        var latencies = new double[replied];
        var n = 0;
        foreach (var latency in _latencyMs)
        {
            if (latency != 0 && n < latencies.Length)
            {
                latencies[n++] = latency;
            }
        }

        Array.Sort(latencies);
        return new RunResult(name, replied / elapsed.TotalSeconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), Requests - replied, Volatile.Read(ref _duplicates));
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

/// <summary>One path's figures.</summary>
internal sealed record RunResult(string Name, double RequestsPerSecond, double P50Ms, double P99Ms, int Lost, int Duplicates);
