using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using NATS.Client.Core;

namespace Federation.NatsBench;

/// <summary>
/// (c) Raw pub/sub against one nats-server: a publisher and a subscriber connection in one process, COUNT messages of
/// SIZE bytes published as fast as the client allows on one subject. Latency is publish-to-delivery under saturation,
/// so it is mostly queueing. The npm client runs the same load in its own node process (tests/interop/nats-pubsub-bench.mjs).
/// </summary>
internal static class RawPubSub
{
    /// <summary>The official client (NATS.Client.Core), the one the link stands on after issue 10.</summary>
    public static async Task<BenchResult> OfficialAsync(string url, int count, int size, CancellationToken cancellationToken)
    {
        var subject = "bench.official." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // Big enough to hold the whole run, and waiting rather than dropping: the npm client's subscription is unbounded too.
        await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = url, Name = "bench-official-sub", SubPendingChannelCapacity = count + 16, SubPendingChannelFullMode = BoundedChannelFullMode.Wait });
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = url, Name = "bench-official-pub" });
        await subscriber.ConnectAsync();
        await publisher.ConnectAsync();
        await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken);
        await subscriber.PingAsync(cancellationToken);

        var latencies = new double[count];
        var receiving = Task.Run(
            async () =>
            {
                var received = 0;
                var reader = subscription.Msgs;
                while (await reader.WaitToReadAsync(cancellationToken))
                {
                    while (reader.TryRead(out var message))
                    {
                        _ = BenchPayload.TryRead(message.Data, out _, out _, out latencies[received]);
                        if (++received == count)
                        {
                            return;
                        }
                    }
                }
            },
            cancellationToken);

        var payload = new byte[size];
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            BenchPayload.Write(payload, 0, i);
            await publisher.PublishAsync(subject, payload, cancellationToken: cancellationToken);
        }

        await publisher.PingAsync(cancellationToken);
        await receiving.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return BenchResult.From("NATS.Client.Core 3.3.2 client", size, count, 0, seconds, latencies, count, double.NaN);
    }

#if HAND_WRITTEN_CLIENT
    /// <summary>The hand-written client (Federation.Nats.Client) that issue 10 deletes; compiled only while it exists.</summary>
    public static async Task<BenchResult> HandWrittenAsync(string url, int count, int size, CancellationToken cancellationToken)
    {
        var subject = "bench.ours." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // Big enough to hold the whole run: the npm client's subscription is unbounded too, so neither side drops.
        await using var subscriber = new Federation.Nats.Client.NatsConnection(new Federation.Nats.Client.NatsClientOptions { Servers = [url], Name = "bench-ours-sub", SubscriptionBufferCapacity = count + 16 });
        await using var publisher = new Federation.Nats.Client.NatsConnection(new Federation.Nats.Client.NatsClientOptions { Servers = [url], Name = "bench-ours-pub" });
        await subscriber.ConnectAsync(cancellationToken);
        await publisher.ConnectAsync(cancellationToken);
        var subscription = await subscriber.SubscribeAsync(subject, cancellationToken: cancellationToken);
        await subscriber.FlushAsync(cancellationToken);

        var latencies = new double[count];
        var receiving = Task.Run(
            async () =>
            {
                var received = 0;
                await foreach (var message in subscription.WithCancellation(cancellationToken))
                {
                    _ = BenchPayload.TryRead(message.Data.Span, out _, out _, out latencies[received]);
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
            BenchPayload.Write(payload, 0, i);
            await publisher.PublishAsync(subject, payload, cancellationToken: cancellationToken);
        }

        await publisher.FlushAsync(cancellationToken);
        await receiving.WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (subscription.DroppedMessages != 0)
        {
            throw new InvalidOperationException($"our subscriber dropped {subscription.DroppedMessages} messages");
        }

        return BenchResult.From("Federation.Nats hand-written client", size, count, 0, seconds, latencies, count, double.NaN);
    }
#endif

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
        return new BenchResult("npm nats 2.29.3 client", size, count, count, 0, root.GetProperty("seconds").GetDouble(), root.GetProperty("p50Ms").GetDouble(), root.GetProperty("p99Ms").GetDouble(), double.NaN);
    }
}
