using System.Diagnostics;
using NATS.Client.Core;

namespace Federation.NatsBench;

/// <summary>
/// (b) Forwarding between two nats-servers: publish on one, subscribe on the other, with the same client on both ends
/// whatever forwards in between (a leafnode connection or our link). Both paths are at-most-once, so the publisher
/// keeps at most <c>window</c> messages in flight (sent, not yet delivered): a path that drops shows as a stall and an
/// error, not as a better figure.
/// </summary>
internal static class Forwarding
{
    // Between two readiness probes; the wait itself is bounded by a deadline.
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(50);

    public static async Task<BenchResult> MeasureAsync(string name, string publishUrl, string subscribeUrl, string subject, int count, int size, int window, CancellationToken cancellationToken)
    {
        await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = subscribeUrl, Name = "bench-sub", SubPendingChannelCapacity = window + 1024 });
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = publishUrl, Name = "bench-pub" });
        await subscriber.ConnectAsync();
        await publisher.ConnectAsync();

        var latencies = new double[count];
        using var credits = new SemaphoreSlim(window, window);
        var probed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = 0;
        await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken);
        var receiving = Task.Run(
            async () =>
            {
                await foreach (var message in subscription.Msgs.ReadAllAsync(cancellationToken))
                {
                    if (LatencyStamp.ElapsedMs(message.Data) is not { } elapsed)
                    {
                        probed.TrySetResult(); // a probe: the path is up end to end
                        continue;
                    }

                    latencies[received] = elapsed;
                    credits.Release();
                    if (++received == count)
                    {
                        done.TrySetResult();
                        return;
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
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            if (!credits.Wait(0, CancellationToken.None))
            {
                if (!await credits.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken))
                {
                    throw new TimeoutException($"{name}: stalled after {received} of {count} messages (a message was lost)");
                }
            }

            LatencyStamp.Write(payload);
            await publisher.PublishAsync(subject, payload, cancellationToken: cancellationToken);
        }

        await done.Task.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        await receiving.ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.Error.WriteLine($"  {name}: {(GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore) / count} B allocated per message in this process (both ends' client included)");
        return BenchResult.From(name, size, seconds, latencies);
    }
}
