using System.Diagnostics;
using System.Threading.Channels;
using Federation.Benchmarking;
using NATS.Client.Core;

namespace Federation.NatsBench;

/// <summary>
/// (a) Forwarding between two nats-servers: publish on one, subscribe on the other, with the same client (the official
/// NATS.Client.Core, so the load generator does not change when the link's client does) on both ends whatever forwards
/// in between (a leafnode connection or our link). Two modes:
/// <list type="bullet">
/// <item>saturated: as fast as possible with at most <c>window</c> messages in flight (sent, neither delivered nor
/// known lost);</item>
/// <item>paced: a steady rate below saturation, for latency that is not queueing.</item>
/// </list>
/// Every message carries its sequence number. Delivery is in order on one path, so a message that arrives after a gap
/// proves the gap lost and returns its window credits; nothing stalls on a loss, and the loss is counted.
/// </summary>
internal static class Forwarding
{
    // Between two readiness probes; the wait itself is bounded by a deadline.
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(50);

    // How long the end of a run waits for the next message before it counts the rest as lost.
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private static int s_runId;

    /// <summary>Measures one run. <paramref name="pacedRate"/> null means saturated.</summary>
    public static async Task<BenchResult> MeasureAsync(
        string name, string publishUrl, string subscribeUrl, string subject, int count, int size, int window, int? pacedRate, ProcessCpu cpu, CancellationToken cancellationToken)
    {
        var run = Interlocked.Increment(ref s_runId);
        // Wait, not drop: the measuring client must never be the one that loses messages.
        await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = subscribeUrl, Name = "bench-sub", SubPendingChannelCapacity = Math.Max(window, 1024) * 2, SubPendingChannelFullMode = BoundedChannelFullMode.Wait });
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = publishUrl, Name = "bench-pub" });
        var clientDrops = 0;
        subscriber.MessageDropped += (_, _) =>
        {
            Interlocked.Increment(ref clientDrops);
            return ValueTask.CompletedTask;
        };
        await subscriber.ConnectAsync();
        await publisher.ConnectAsync();

        var latencies = new double[count];
        var seen = new bool[count];
        // No maximum: credits presumed lost in a stall are returned without counting what is outstanding.
        using var credits = new SemaphoreSlim(window, int.MaxValue);
        var probed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = 0;
        var duplicates = 0;
        var highest = -1;
        long lastArrival = 0;
        await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken);
        var receiving = Task.Run(
            async () =>
            {
                var reader = subscription.Msgs;
                while (await reader.WaitToReadAsync(cancellationToken))
                {
                    while (reader.TryRead(out var message))
                    {
                        if (!BenchPayload.TryRead(message.Data, out var messageRun, out var sequence, out var elapsed))
                        {
                            probed.TrySetResult(); // a probe: the path is up end to end
                            continue;
                        }

                        if (messageRun != run || (uint)sequence >= (uint)count)
                        {
                            continue; // a late message of an earlier run
                        }

                        Volatile.Write(ref lastArrival, Stopwatch.GetTimestamp());
                        if (seen[sequence])
                        {
                            duplicates++;
                            continue;
                        }

                        seen[sequence] = true;
                        latencies[received] = elapsed;
                        if (sequence > highest)
                        {
                            // In-order delivery: everything between the previous highest and this one is lost or late.
                            credits.Release(sequence - highest);
                            highest = sequence;
                        }

                        if (Interlocked.Increment(ref received) == count)
                        {
                            done.TrySetResult();
                        }
                    }
                }
            },
            cancellationToken);
        await subscriber.PingAsync(cancellationToken);

        // Interest has to travel (leafnode interest, or our link's /subsz poll and upstream SUB) before load starts.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!probed.Task.IsCompleted)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name}: nothing published on {publishUrl} reached {subscribeUrl} within 30 s");
            }

            await publisher.PublishAsync(subject, cancellationToken: cancellationToken);
            await Task.WhenAny(probed.Task, Task.Delay(ProbeInterval, cancellationToken));
        }

        var payload = new byte[size];
        var stalls = 0;
        var cpuBefore = cpu.TotalMs();
        var started = Stopwatch.GetTimestamp();
        Volatile.Write(ref lastArrival, started);
        // Paced: message i is due i/rate seconds after the start, released one at a time (not in timer-tick bursts).
        using var pacer = pacedRate is { } rate ? new SteadyPacer(rate, count) : null;
        for (var i = 0; i < count; i++)
        {
            if (pacer is not null)
            {
                await pacer.WaitAsync(cancellationToken);
            }
            else if (!credits.Wait(0, CancellationToken.None) && !await credits.WaitAsync(DrainTimeout, cancellationToken))
            {
                // Nothing arrived for a while with the window full: presume what is in flight lost (it is counted at
                // the end either way) and go on, so a lossy path still finishes and shows its loss.
                stalls++;
                credits.Release(window);
            }

            BenchPayload.Write(payload, run, i);
            await publisher.PublishAsync(subject, payload, cancellationToken: cancellationToken);
        }

        // Until everything arrived, or nothing arrived for DrainTimeout: the rest is lost.
        while (!done.Task.IsCompleted && Stopwatch.GetElapsedTime(Volatile.Read(ref lastArrival)) < DrainTimeout)
        {
            await Task.WhenAny(done.Task, Task.Delay(ProbeInterval, cancellationToken));
        }

        var seconds = Stopwatch.GetElapsedTime(started, Volatile.Read(ref lastArrival)).TotalSeconds;
        var cpuMs = cpu.TotalMs() - cpuBefore;
        var arrived = Volatile.Read(ref received);
        if (arrived != count || stalls != 0 || clientDrops != 0)
        {
            Console.Error.WriteLine($"  {name}: {count - arrived} of {count} lost, {stalls} stalls, {clientDrops} dropped by the measuring client; {DescribeGaps(seen)}");
        }

        if (clientDrops != 0)
        {
            throw new InvalidOperationException($"{name}: the measuring subscriber dropped {clientDrops} messages; its figures would blame the path");
        }

        // The receive loop ends with the subscription; the figures are taken already.
        await subscription.UnsubscribeAsync();
        await receiving.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        return BenchResult.From(name, size, count, duplicates, seconds, latencies, arrived, cpuMs);
    }

    /// <summary>Where the lost messages were: how many runs of consecutive sequence numbers, and the longest ones.</summary>
    private static string DescribeGaps(bool[] seen)
    {
        var gaps = new List<(int Start, int Length)>();
        for (var i = 0; i < seen.Length; i++)
        {
            if (seen[i])
            {
                continue;
            }

            var start = i;
            while (i < seen.Length && !seen[i])
            {
                i++;
            }

            gaps.Add((start, i - start));
        }

        var longest = gaps.OrderByDescending(g => g.Length).Take(5).Select(g => $"{g.Length} from #{g.Start}");
        return $"{gaps.Count} gaps, longest: {string.Join(", ", longest)}";
    }
}
