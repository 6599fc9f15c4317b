using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NATS.Client.Core;

namespace Federation.NatsBench;

/// <summary>
/// (a) Raw pub/sub against one nats-server: a publisher and a subscriber connection in one process, COUNT messages of
/// SIZE bytes published as fast as the client allows on one subject. Latency is publish-to-delivery under saturation,
/// so it is mostly queueing. The npm client runs the same load in its own node process (tests/interop/nats-pubsub-bench.mjs).
/// </summary>
internal static class RawPubSub
{
    public static async Task<BenchResult> OursAsync(string url, int count, int size, CancellationToken cancellationToken)
    {
        var subject = "bench.ours." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // Big enough to hold the whole run, and waiting rather than dropping: the npm client's subscription is unbounded
        // too, so neither side drops.
        await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = url, Name = "bench-ours-sub", SubPendingChannelCapacity = count + 16, SubPendingChannelFullMode = System.Threading.Channels.BoundedChannelFullMode.Wait });
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = url, Name = "bench-ours-pub" });
        await subscriber.ConnectAsync();
        await publisher.ConnectAsync();
        await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken);
        await subscriber.PingAsync(cancellationToken);
        long dropped = 0;
        subscriber.MessageDropped += (_, _) =>
        {
            Interlocked.Increment(ref dropped);
            return ValueTask.CompletedTask;
        };

        var latencies = new double[count];
        var receiving = Task.Run(
            async () =>
            {
                var received = 0;
                await foreach (var message in subscription.Msgs.ReadAllAsync(cancellationToken))
                {
                    latencies[received] = LatencyStamp.ElapsedMs(message.Data) ?? 0;
                    if (++received == count)
                    {
                        return;
                    }
                }
            },
            cancellationToken);

        var payload = new byte[size];
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            LatencyStamp.Write(payload);
            await publisher.PublishAsync(subject, payload, cancellationToken: cancellationToken);
        }

        await publisher.PingAsync(cancellationToken);
        await receiving.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (Interlocked.Read(ref dropped) != 0)
        {
            throw new InvalidOperationException($"our subscriber dropped {Interlocked.Read(ref dropped)} messages");
        }

        return BenchResult.From("NATS.Client.Core 3.3.2", size, seconds, latencies);
    }

    public static async Task<BenchResult> NpmAsync(string driver, string url, int count, int size, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(driver))!, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.GetFullPath(driver), url, count.ToString(CultureInfo.InvariantCulture), size.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node could not be started");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{driver} exited with {process.ExitCode}: {await error}");
        }

        using var json = JsonDocument.Parse((await output).Trim().Split('\n')[^1]);
        var root = json.RootElement;
        return new BenchResult("npm nats 2.29.3 client", count, size, root.GetProperty("seconds").GetDouble(), root.GetProperty("p50Ms").GetDouble(), root.GetProperty("p99Ms").GetDouble());
    }
}
