using System.Globalization;
using System.Text;
using System.Text.Json;
using Federation.Core;
using Federation.Core.Hops;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Client;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

/// <summary>Two real nats-servers, A (upstream) and B (downstream), federated by a FederationEngine over the NATS transport.</summary>
public sealed class NatsFederationTests : IAsyncLifetime
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly List<IAsyncDisposable> _resources = [];
    private readonly HttpClient _http = new();
    private NatsServerProcess _a = null!;
    private NatsServerProcess _b = null!;

    public async Task InitializeAsync()
    {
        _a = await NatsServerProcess.StartAsync("-n", "server-a");
        _b = await NatsServerProcess.StartAsync("-n", "server-b");
    }

    public async Task DisposeAsync()
    {
        for (var i = _resources.Count - 1; i >= 0; i--)
        {
            await _resources[i].DisposeAsync();
        }

        await _a.DisposeAsync();
        await _b.DisposeAsync();
        _http.Dispose();
    }

    private static string Uri(NatsServerProcess server, string cluster) =>
        $"{server.Url}?cluster-name={cluster}&monitor-port={server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders";

    private async Task<FederationEngine> StartEngineAsync(NatsServerProcess downstream, string downstreamName, NatsServerProcess upstream, string upstreamName, int maxHops = 1)
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(downstream, downstreamName) } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(upstream, upstreamName) }, MaxHops = maxHops };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()]);
        _resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        await Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }], () => $"a running link; have {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}");
        return engine;
    }

    private async Task<NatsConnection> ConnectAsync(NatsServerProcess server)
    {
        var connection = new NatsConnection(new NatsClientOptions { Servers = [server.Url], Name = "test-app" });
        _resources.Add(connection);
        await connection.ConnectAsync();
        return connection;
    }

    private async Task<NatsSubscription> SubscribeAsync(NatsServerProcess server, string subject)
    {
        var connection = await ConnectAsync(server);
        var subscription = await connection.SubscribeAsync(subject);
        await connection.FlushAsync();
        return subscription;
    }

    /// <summary>Subscription subjects the server lists, excluding system ones.</summary>
    private async Task<List<string>> SubjectsAsync(NatsServerProcess server)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new System.Uri($"http://127.0.0.1:{server.MonitorPort}/subsz?subs=1&limit=100000")));
        return [.. doc.RootElement.GetProperty("subscriptions_list").EnumerateArray()
            .Where(s => s.GetProperty("account").GetString() != "$SYS")
            .Select(s => s.GetProperty("subject").GetString()!)
            .Where(s => !s.StartsWith('$') && !s.StartsWith("_INBOX.", StringComparison.Ordinal))];
    }

    private async Task<long> InMsgsAsync(NatsServerProcess server)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new System.Uri($"http://127.0.0.1:{server.MonitorPort}/varz")));
        return doc.RootElement.GetProperty("in_msgs").GetInt64();
    }

    private async Task WaitForUpstreamInterestAsync(NatsServerProcess upstream, params string[] subjects)
    {
        List<string> have = [];
        await EventuallyAsync(async () => (have = await SubjectsAsync(upstream)) is var s && subjects.All(s.Contains), () => $"upstream SUBs {string.Join(",", subjects)}; have {string.Join(",", have)}");
    }

    private static async Task<NatsMsg> ReadAsync(NatsSubscription subscription)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        return await subscription.ReadAsync(timeout.Token);
    }

    private static Task Eventually(Func<bool> condition, Func<string> describe) => EventuallyAsync(() => Task.FromResult(condition()), describe);

    private static async Task EventuallyAsync(Func<Task<bool>> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting for " + describe());
            }

            await Task.Delay(PollInterval);
        }
    }

    [Fact]
    public async Task Downstream_subscription_interest_pulls_matching_messages_only_with_a_one_hop_trail()
    {
        await StartEngineAsync(_b, "B", _a, "A");
        var subscriber = await SubscribeAsync(_b, "orders.eu.*");
        await WaitForUpstreamInterestAsync(_a, "orders.eu.*");
        Assert.DoesNotContain(await SubjectsAsync(_a), s => s.StartsWith("orders.us", StringComparison.Ordinal) || s == "orders.>");

        var publisher = await ConnectAsync(_a);
        var before = await InMsgsAsync(_b);
        await publisher.PublishAsync("orders.us.created", "us"u8.ToArray());
        await publisher.PublishAsync("orders.eu.created", "eu"u8.ToArray(), new NatsHeaders().Add("tenant", "acme"));
        await publisher.FlushAsync();

        var message = await ReadAsync(subscriber);
        Assert.Equal("orders.eu.created", message.Subject);
        Assert.Equal("eu", Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal("acme", message.Headers!["tenant"]);
        var trail = HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(message.Headers).Headers);
        var hop = Assert.Single(trail);
        Assert.Equal("A", hop.ClusterName);
        Assert.Equal("orders", hop.Exchange);
        Assert.Equal("/", hop.VirtualHost);
        Assert.StartsWith(_a.Url, hop.Uri, StringComparison.Ordinal);

        // Only the eu message was published into B: us was never subscribed upstream.
        Assert.Equal(before + 1, await InMsgsAsync(_b));
        Assert.False(subscriber.TryRead(out _));

        // Interest removed downstream -> the upstream SUB goes away.
        await subscriber.DisposeAsync();
        List<string> have = [];
        await EventuallyAsync(async () => !(have = await SubjectsAsync(_a)).Contains("orders.eu.*"), () => $"upstream SUB removed; have {string.Join(",", have)}");
    }

    [Fact]
    public async Task Overlapping_interest_delivers_one_copy()
    {
        await StartEngineAsync(_b, "B", _a, "A");
        var wide = await SubscribeAsync(_b, "orders.eu.*");
        var narrow = await SubscribeAsync(_b, "orders.eu.created");
        await WaitForUpstreamInterestAsync(_a, "orders.eu.*", "orders.eu.created");

        var publisher = await ConnectAsync(_a);
        var before = await InMsgsAsync(_b);
        await publisher.PublishAsync("orders.eu.created", "one"u8.ToArray());
        await publisher.PublishAsync("orders.eu.sentinel", "sentinel"u8.ToArray());
        await publisher.FlushAsync();

        Assert.Equal("orders.eu.created", (await ReadAsync(wide)).Subject);
        Assert.Equal("orders.eu.created", (await ReadAsync(narrow)).Subject);
        Assert.Equal("orders.eu.sentinel", (await ReadAsync(wide)).Subject);

        // One copy per subscriber and exactly two messages forwarded into B.
        Assert.False(wide.TryRead(out _));
        Assert.False(narrow.TryRead(out _));
        Assert.Equal(before + 2, await InMsgsAsync(_b));
    }

    [Fact]
    public async Task Bindings_made_through_the_adapter_are_interest_too()
    {
        var transport = new NatsTransport();
        var app = await transport.ConnectAsync(new Core.Transport.ConnectionRequest(Uri(_b, "B"), "app"), CancellationToken.None);
        _resources.Add(app);
        await app.DeclareQueueAsync(new Core.Transport.QueueSpec("q", Durable: false), CancellationToken.None);
        await app.BindAsync(new Core.Transport.BindingSpec("orders", "q", Core.Transport.BindingDestinationKind.Queue, "eu.#"), false, CancellationToken.None);
        var received = System.Threading.Channels.Channel.CreateUnbounded<Core.Transport.Delivery>();
        var consumer = await app.ConsumeAsync("q", new Core.Transport.ConsumerOptions(10), (d, _) => { received.Writer.TryWrite(d); return ValueTask.CompletedTask; }, CancellationToken.None);
        _resources.Add(consumer);

        await StartEngineAsync(_b, "B", _a, "A");
        await WaitForUpstreamInterestAsync(_a, "orders.eu.>", "orders.eu");

        var publisher = await ConnectAsync(_a);
        await publisher.PublishAsync("orders.eu.fr.created", "fr"u8.ToArray());
        await publisher.FlushAsync();

        using var timeout = new CancellationTokenSource(Deadline);
        var delivery = await received.Reader.ReadAsync(timeout.Token);
        Assert.Equal("orders", delivery.Exchange);
        Assert.Equal("eu.fr.created", delivery.RoutingKey);
        Assert.Single(HopRules.ReadReceivedFrom(delivery.Properties.Headers));
    }

    [Fact]
    public async Task A_pair_with_max_hops_1_does_not_send_messages_back()
    {
        await StartEngineAsync(_b, "B", _a, "A");
        await StartEngineAsync(_a, "A", _b, "B");
        var onA = await SubscribeAsync(_a, "orders.x");
        var onB = await SubscribeAsync(_b, "orders.x");
        // Each server has the app SUB and the SUB of the link pulling towards the other server.
        foreach (var server in new[] { _a, _b })
        {
            List<string> have = [];
            await EventuallyAsync(async () => (have = await SubjectsAsync(server)).Count(s => s == "orders.x") == 2, () => $"two orders.x SUBs; have {string.Join(",", have)}");
        }

        var publisherA = await ConnectAsync(_a);
        await publisherA.PublishAsync("orders.x", "from-a"u8.ToArray());
        await publisherA.FlushAsync();
        var forwarded = await ReadAsync(onB);
        Assert.Equal("from-a", Encoding.UTF8.GetString(forwarded.Data.Span));
        Assert.Equal("from-a", Encoding.UTF8.GetString((await ReadAsync(onA)).Data.Span));

        // A sentinel published on B travels the same reverse link after the forwarded copy, which must have been dropped.
        var publisherB = await ConnectAsync(_b);
        await publisherB.PublishAsync("orders.x", "sentinel-b"u8.ToArray());
        await publisherB.FlushAsync();
        var next = await ReadAsync(onA);
        Assert.Equal("sentinel-b", Encoding.UTF8.GetString(next.Data.Span));
        Assert.Equal("B", Assert.Single(HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(next.Headers).Headers)).ClusterName);
    }
}
