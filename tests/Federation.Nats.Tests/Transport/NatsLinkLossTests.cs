using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// No silent loss on a core NATS link: a message the downstream refuses (over its <c>max_payload</c>) cannot go back to a
/// core NATS upstream, so the link counts it as dropped with its reason, shows it in its status, logs the episode once,
/// and goes on forwarding (restarting would lose everything else the link holds).
/// </summary>
public sealed class NatsLinkLossTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("nats-link-loss-").FullName;
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        var config = Path.Combine(_directory, "downstream.conf");
        await File.WriteAllTextAsync(config, "max_payload: 1024\n");
        _upstream = await NatsServerProcess.StartAsync("-n", "loss-a");
        _downstream = await NatsServerProcess.StartAsync("-n", "loss-b", "-c", config);
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_message_over_the_downstream_max_payload_is_counted_as_dropped_and_the_link_goes_on()
    {
        using var logs = new CapturingLoggerFactory();
        var options = new FederationOptions { Downstream = { Uri = Uri(_downstream, "B") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(_upstream, "A") } };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()], logs);
        await engine.StartAsync(CancellationToken.None);
        await PollAsync(() => engine.GetLinks() is [{ State: LinkState.Running }], () => "a running link");

        await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = _downstream.Url });
        await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>("orders.>");
        await subscriber.PingAsync();
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = _upstream.Url });
        await PollAsync(
            async () =>
            {
                // Interest reaches the upstream through the downstream's /subsz: probe until a marker crosses.
                await publisher.PublishAsync("orders.probe", "p"u8.ToArray());
                return subscription.Msgs.TryRead(out _);
            },
            () => "the link forwarding orders.>");
        while (subscription.Msgs.TryRead(out _))
        {
        }

        await publisher.PublishAsync("orders.big", new byte[2048]);
        await publisher.PublishAsync("orders.small", "after"u8.ToArray());
        await publisher.PingAsync();

        using var timeout = new CancellationTokenSource(Deadline);
        NatsMsg<byte[]> next;
        do
        {
            next = await subscription.Msgs.ReadAsync(timeout.Token);
        }
        while (next.Subject == "orders.probe");
        Assert.Equal("orders.small", next.Subject);

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("downstream_rejected"));
        Assert.Contains("lost 1 message(s) (downstream_rejected)", logs.Text, StringComparison.Ordinal);
        Assert.Contains("exceeds server's maximum payload size 1024", logs.Text, StringComparison.Ordinal); // why, for the operator
    }

    [Fact]
    public async Task A_subscriber_that_replaces_another_between_two_polls_misses_nothing()
    {
        // One poll a second: the old subscriber leaves and the new one arrives within one interval, so one poll sees both
        // changes. Applied removal first, the link would unbind upstream and bind again, and core NATS drops what is
        // published in between.
        var options = new FederationOptions { Downstream = { Uri = Uri(_downstream, "B", monitorIntervalMs: 1000) } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(_upstream, "A") } };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()]);
        await engine.StartAsync(CancellationToken.None);
        await PollAsync(() => engine.GetLinks() is [{ State: LinkState.Running }], () => "a running link");

        var waitWhenFull = NatsOpts.Default with { Url = _downstream.Url, SubPendingChannelCapacity = 1_000_000, SubPendingChannelFullMode = System.Threading.Channels.BoundedChannelFullMode.Wait };
        await using var old = new NatsConnection(waitWhenFull);
        await using var oldSubscription = await old.SubscribeCoreAsync<int>("orders.>");
        await old.PingAsync();
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = _upstream.Url });
        await PollAsync(
            async () =>
            {
                await publisher.PublishAsync("orders.probe", -1);
                return oldSubscription.Msgs.TryRead(out _);
            },
            () => "the link forwarding orders.>");

        // Publish a numbered stream until told to stop, in small batches that the server has processed before the next.
        var published = 0;
        using var stop = new CancellationTokenSource();
        var publishing = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                for (var i = 0; i < 50; i++)
                {
                    await publisher.PublishAsync("orders.seq", Volatile.Read(ref published));
                    Interlocked.Increment(ref published);
                }

                await publisher.PingAsync();
            }
        });

        await using var replacement = new NatsConnection(waitWhenFull);
        await using var subscription = await replacement.SubscribeCoreAsync<int>("orders.>");
        await replacement.PingAsync();
        var firstExpected = Volatile.Read(ref published) + 1;
        await oldSubscription.DisposeAsync();
        await old.DisposeAsync();

        // Long enough for two polls after the swap; then one last numbered message marks the end.
        var swapped = System.Diagnostics.Stopwatch.StartNew();
        await PollAsync(() => swapped.Elapsed > TimeSpan.FromSeconds(2.5), () => "two polls");
        await stop.CancelAsync();
        await publishing;
        var last = Volatile.Read(ref published);
        await publisher.PublishAsync("orders.seq", last);
        await publisher.PingAsync();

        var received = new HashSet<int>();
        using var timeout = new CancellationTokenSource(Deadline);
        while (!received.Contains(last))
        {
            var message = await subscription.Msgs.ReadAsync(timeout.Token);
            if (message.Subject == "orders.seq")
            {
                received.Add(message.Data);
            }
        }

        var missing = Enumerable.Range(firstExpected, last - firstExpected + 1).Where(n => !received.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {last - firstExpected + 1} messages published after the new subscriber joined never arrived (first: {string.Join(", ", missing.Take(5))})");
        Assert.Null(Assert.Single(engine.GetLinks()).DroppedMessages);
    }

    private static string Uri(NatsServerProcess server, string cluster, int monitorIntervalMs = 50) =>
        $"{server.Url}?cluster-name={cluster}&monitor-port={server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms={monitorIntervalMs.ToString(CultureInfo.InvariantCulture)}&namespaces=orders";

    private static Task PollAsync(Func<bool> condition, Func<string> describe) => PollAsync(() => Task.FromResult(condition()), describe);

    private static async Task PollAsync(Func<Task<bool>> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out waiting for " + describe());
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }
}
