using System.Diagnostics;
using System.Globalization;
using Federation.Benchmarking;
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

    /// <summary>
    /// Sends every request through <paramref name="send"/> and waits for the replies, or for <paramref name="deadline"/>.
    /// With <paramref name="ratePerSecond"/>, request i is not sent before i / rate seconds after the start (a paced run
    /// below saturation, released by a <see cref="SteadyPacer"/>); the window still caps what is outstanding.
    /// </summary>
    public async Task<RoundResult> ExecuteAsync(Func<int, string, ValueTask> send, TimeSpan deadline, double? ratePerSecond = null)
    {
        using var timeout = new CancellationTokenSource(deadline);
        var started = Stopwatch.GetTimestamp();
        using var pacer = ratePerSecond is { } rate ? new SteadyPacer(rate, Requests) : null;
        try
        {
            for (var i = 0; i < Requests; i++)
            {
                if (pacer is not null)
                {
                    await pacer.WaitAsync(timeout.Token);
                }

                await _window.WaitAsync(timeout.Token);
                _sentAt[i] = Stopwatch.GetTimestamp();
                await send(i, string.Create(CultureInfo.InvariantCulture, $"{ReplyPrefix}.{i}"));
            }

            await _allReplied.Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            // reported as lost
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var latencies = new List<double>(Requests);
        foreach (var latency in _latencyMs)
        {
            if (latency != 0)
            {
                latencies.Add(latency);
            }
        }

        return new RoundResult(elapsed, latencies, Requests - latencies.Count, Volatile.Read(ref _duplicates));
    }
}

/// <summary>One round of one path.</summary>
internal sealed record RoundResult(TimeSpan Elapsed, List<double> LatenciesMs, int Lost, int Duplicates)
{
    /// <summary>CPU used during the round by the bench process (clients and the simulated node), by the path's broker processes, by the nats-servers.</summary>
    public (TimeSpan Clients, TimeSpan Brokers, TimeSpan Servers) Cpu { get; init; }
}

/// <summary>A path's rounds, added up.</summary>
internal sealed class PathResult(string name)
{
    private readonly List<double> _latencies = [];
    private TimeSpan _elapsed;

    public string Name { get; } = name;

    public int Lost { get; private set; }

    public int Duplicates { get; private set; }

    public double RequestsPerSecond => _latencies.Count / _elapsed.TotalSeconds;

    public double P50Ms => Percentile(0.50);

    public double P99Ms => Percentile(0.99);

    public TimeSpan ClientCpu { get; private set; }

    public TimeSpan BrokerCpu { get; private set; }

    public TimeSpan ServerCpu { get; private set; }

    /// <summary>CPU microseconds per replied request.</summary>
    public double PerRequestUs(TimeSpan cpu) => _latencies.Count == 0 ? double.NaN : cpu.TotalMicroseconds / _latencies.Count;

    public void Add(RoundResult round)
    {
        ClientCpu += round.Cpu.Clients;
        BrokerCpu += round.Cpu.Brokers;
        ServerCpu += round.Cpu.Servers;
        _elapsed += round.Elapsed;
        _latencies.AddRange(round.LatenciesMs);
        _latencies.Sort();
        Lost += round.Lost;
        Duplicates += round.Duplicates;
    }

    private double Percentile(double p) =>
        _latencies.Count == 0 ? double.NaN : _latencies[Math.Min(_latencies.Count - 1, (int)Math.Ceiling(p * _latencies.Count) - 1)];
}
