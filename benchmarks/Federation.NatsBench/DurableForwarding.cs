using System.Diagnostics;
using System.Threading.Channels;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Federation.NatsBench;

/// <summary>
/// (b) Durable forwarding between two JetStream servers: publish COUNT messages into a stream on the upstream server
/// (acked JetStream publishes, at most <c>window</c> awaiting their PubAck) and take the time until all COUNT are in a
/// stream on the downstream server (its message count, polled). Whatever moves them in between (native sourcing over
/// the leafnode, or our durable link) is what is measured. Counts are deltas, so the streams live for the whole run.
/// </summary>
internal static class DurableForwarding
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    // How long the downstream count may stand still before the rest is counted as lost.
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(10);

    private static int s_runId;

    /// <summary>The name of a stream on the server behind <paramref name="js"/> that captures <paramref name="subject"/>, or null.</summary>
    public static async Task<string?> FindStreamAsync(NatsJSContext js, string subject, CancellationToken cancellationToken)
    {
        await foreach (var name in js.ListStreamNamesAsync(subject, cancellationToken))
        {
            return name;
        }

        return null;
    }

    public static async Task<long> MessageCountAsync(NatsJSContext js, string stream, CancellationToken cancellationToken) =>
        (await js.GetStreamAsync(stream, cancellationToken: cancellationToken)).Info.State.Messages;

    public static async Task<BenchResult> MeasureAsync(
        string name, string upstreamUrl, string downstreamUrl, string subject, string upstreamStream, string downstreamStream, int count, int size, int window, ProcessCpu cpu, CancellationToken cancellationToken)
    {
        var run = Interlocked.Increment(ref s_runId);
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = upstreamUrl, Name = "bench-js-pub", SubPendingChannelCapacity = window * 2, SubPendingChannelFullMode = BoundedChannelFullMode.Wait });
        await using var observer = new NatsConnection(NatsOpts.Default with { Url = downstreamUrl, Name = "bench-js-observer" });
        await publisher.ConnectAsync();
        await observer.ConnectAsync();
        var upstream = new NatsJSContext(publisher);
        var downstream = new NatsJSContext(observer);
        var upstreamBefore = await MessageCountAsync(upstream, upstreamStream, cancellationToken);
        var downstreamBefore = await MessageCountAsync(downstream, downstreamStream, cancellationToken);

        // PubAcks come back on one wildcard inbox: a plain publish with a reply subject per message is a JetStream
        // publish, without a request object per message in the load generator.
        var inbox = $"_BENCH_ACK.{Environment.ProcessId}.{run}";
        using var credits = new SemaphoreSlim(window, window);
        var acked = 0;
        var failed = 0;
        var allAcked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var acks = await publisher.SubscribeCoreAsync<byte[]>(inbox + ".*", cancellationToken: cancellationToken);
        var ackLoop = Task.Run(
            async () =>
            {
                var reader = acks.Msgs;
                while (await reader.WaitToReadAsync(cancellationToken))
                {
                    while (reader.TryRead(out var ack))
                    {
                        // A PubAck is {"stream":..,"seq":..}; a refusal carries "error" (or is a no-responders status).
                        if (ack.Data is not { Length: > 0 } data || data.AsSpan().IndexOf("\"error\""u8) >= 0)
                        {
                            failed++;
                        }

                        credits.Release();
                        if (Interlocked.Increment(ref acked) == count)
                        {
                            allAcked.TrySetResult();
                            return;
                        }
                    }
                }
            },
            cancellationToken);
        await publisher.PingAsync(cancellationToken);

        var payload = new byte[size];
        var cpuBefore = cpu.TotalMs();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            if (!credits.Wait(0, CancellationToken.None) && !await credits.WaitAsync(StallTimeout, cancellationToken))
            {
                throw new TimeoutException($"{name}: no PubAck from the upstream stream for {StallTimeout.TotalSeconds:F0} s after {acked} of {count}");
            }

            BenchPayload.Write(payload, run, i);
            await publisher.PublishAsync(subject, payload, replyTo: $"{inbox}.{i}", cancellationToken: cancellationToken);
        }

        await allAcked.Task.WaitAsync(StallTimeout, cancellationToken);
        var target = downstreamBefore + count;
        var arrived = downstreamBefore;
        var lastProgress = Stopwatch.GetTimestamp();
        var lastChange = started;
        while (arrived < target && Stopwatch.GetElapsedTime(lastProgress) < StallTimeout)
        {
            var now = await MessageCountAsync(downstream, downstreamStream, cancellationToken);
            if (now != arrived)
            {
                (arrived, lastProgress) = (now, Stopwatch.GetTimestamp());
                lastChange = lastProgress;
            }

            if (arrived < target)
            {
                await Task.Delay(PollInterval, cancellationToken);
            }
        }

        var seconds = Stopwatch.GetElapsedTime(started, lastChange).TotalSeconds;
        var cpuMs = cpu.TotalMs() - cpuBefore;
        var stored = await MessageCountAsync(upstream, upstreamStream, cancellationToken) - upstreamBefore;
        var delivered = (int)(arrived - downstreamBefore);
        if (failed != 0 || stored != count || delivered != count)
        {
            Console.Error.WriteLine($"  {name}: {failed} publishes refused, {stored} of {count} stored upstream, {delivered} in the downstream stream");
        }

        await ackLoop.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        // Duplicates show as more messages downstream than were published; no latencies (the stream count is polled).
        return new BenchResult(name, size, count, Math.Min(delivered, count), Math.Max(0, delivered - count), seconds, double.NaN, double.NaN, cpuMs);
    }
}
