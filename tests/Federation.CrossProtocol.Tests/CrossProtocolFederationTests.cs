using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Hops;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using RabbitMQ.Client;

namespace Federation.CrossProtocol.Tests;

/// <summary>
/// One <see cref="FederationEngine"/> given both <see cref="AmqpTransport"/> and <see cref="NatsTransport"/> federates an AMQP
/// exchange into a NATS subject namespace and the reverse, with one x-received-from trail model across the boundary.
/// </summary>
[Collection(CrossProtocolCollection.Name)]
public sealed class CrossProtocolFederationTests(CrossProtocolFixture nodes) : IAsyncLifetime
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly List<IAsyncDisposable> resources = [];
    private readonly HttpClient http = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        http.Dispose();
    }

    private string NatsUri(string namespaces) =>
        $"{nodes.Nats.Url}?cluster-name={CrossProtocolFixture.NatsClusterName}&monitor-port={nodes.Nats.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces={namespaces}";

    private async Task<FederationEngine> StartEngineAsync(string downstreamUri, string upstreamUri, string exchange, int maxHops = 1)
    {
        var options = new FederationOptions { Downstream = { Uri = downstreamUri } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { upstreamUri }, MaxHops = maxHops, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(exchange) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var engine = new FederationEngine(options, [new AmqpTransport(), new NatsTransport()]);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        await UntilAsync(
            () => Task.FromResult(engine.GetLinks() is [{ State: LinkState.Running }]),
            () => $"a running link for {exchange}; have {string.Join(", ", engine.GetLinks().Select(l => $"{l.Exchange} {l.State} {l.Error}"))}");
        return engine;
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, Func<string> describe)
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

    private async Task<IChannel> OpenChannelAsync(Federation.Testing.Brokers.RabbitMqNode node)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync();
        resources.Add(channel);
        return channel;
    }

    private async Task<NatsConnection> ConnectNatsAsync(string name)
    {
        var connection = new NatsConnection(NatsOpts.Default with { Url = nodes.Nats.Url, Name = name });
        resources.Add(connection);
        await connection.ConnectAsync();
        return connection;
    }

    private async Task<List<string>> NatsSubjectsAsync()
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{nodes.Nats.MonitorPort}/subsz?subs=1&limit=100000")));
        return [.. doc.RootElement.GetProperty("subscriptions_list").EnumerateArray()
            .Where(s => s.GetProperty("account").GetString() != "$SYS")
            .Select(s => s.GetProperty("subject").GetString()!)];
    }

    private async Task WaitForNatsSubjectsAsync(params string[] subjects)
    {
        List<string> have = [];
        await UntilAsync(async () => (have = await NatsSubjectsAsync()) is var s && subjects.All(s.Contains), () => $"NATS SUBs {string.Join(",", subjects)}; have {string.Join(",", have)}");
    }

    /// <summary>Publishes fresh messages to the RabbitMQ exchange until one is read from <paramref name="subscription"/> (binding propagation is asynchronous).</summary>
    private static async Task<NatsMsg<byte[]>> PublishOnRabbitUntilReceivedAsync(IChannel channel, string exchange, string routingKey, INatsSub<byte[]> subscription)
    {
        var deadline = DateTime.UtcNow + Deadline;
        for (var attempt = 0; ; attempt++)
        {
            await channel.BasicPublishAsync(exchange, routingKey, true, new BasicProperties { MessageId = $"m{attempt}" }, Encoding.UTF8.GetBytes($"hello-{attempt}"));
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try
            {
                return await subscription.Msgs.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    private static async Task<BasicGetResult> GetAsync(IChannel channel, string queue)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            if (await channel.BasicGetAsync(queue, autoAck: true) is { } result)
            {
                return result;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for a message in {queue}");
            }

            await Task.Delay(PollInterval);
        }
    }

    private static string Text(object? value) => Encoding.UTF8.GetString(Assert.IsType<byte[]>(value));

    private static List<string> AmqpTrailClusters(BasicGetResult message) =>
        [.. Assert.IsAssignableFrom<IList>(message.BasicProperties.Headers!["x-received-from"]).Cast<object>()
            .Select(e => Text(Assert.IsType<Dictionary<string, object?>>(e)["cluster-name"]))];

    private static IReadOnlyList<ReceivedFromEntry> NatsTrail(NatsMsg<byte[]> message) =>
        HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(message.Headers).Headers);

    [Fact]
    public async Task Amqp_upstream_to_nats_downstream_delivers_with_a_one_hop_trail_naming_the_rabbitmq_cluster()
    {
        var rabbit = await OpenChannelAsync(nodes.Rabbit1);
        await rabbit.ExchangeDeclareAsync("orders", ExchangeType.Topic, durable: true, autoDelete: false);
        var subscriber = await ConnectNatsAsync("test-subscriber");
        var subscription = await subscriber.SubscribeCoreAsync<byte[]>("orders.eu.*");
        await subscriber.PingAsync();

        await StartEngineAsync(NatsUri("orders"), nodes.Rabbit1.AmqpUri(), "orders");

        var message = await PublishOnRabbitUntilReceivedAsync(rabbit, "orders", "eu.created", subscription);
        Assert.Equal("orders.eu.created", message.Subject);
        Assert.StartsWith("hello-", Encoding.UTF8.GetString(message.Data ?? []), StringComparison.Ordinal);
        var hop = Assert.Single(NatsTrail(message));
        Assert.Equal(nodes.Rabbit1.ClusterName, hop.ClusterName);
        Assert.Equal("orders", hop.Exchange);
        Assert.Equal("/", hop.VirtualHost);
        Assert.StartsWith($"amqp://127.0.0.1:{nodes.Rabbit1.AmqpPort}", hop.Uri, StringComparison.Ordinal);
        Assert.DoesNotContain("guest", hop.Uri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nats_upstream_to_amqp_downstream_delivers_with_a_one_hop_trail_naming_the_nats_cluster()
    {
        var rabbit = await OpenChannelAsync(nodes.Rabbit2);
        await rabbit.ExchangeDeclareAsync("orders", ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await rabbit.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await rabbit.QueueBindAsync(queue, "orders", "eu.#");

        await StartEngineAsync(nodes.Rabbit2.AmqpUri(), NatsUri("orders"), "orders");
        await WaitForNatsSubjectsAsync("orders.eu.>", "orders.eu");

        var publisher = await ConnectNatsAsync("test-publisher");
        await publisher.PublishAsync("orders.eu.created", "from-nats"u8.ToArray());
        await publisher.PingAsync();

        var message = await GetAsync(rabbit, queue);
        Assert.Equal("from-nats", Encoding.UTF8.GetString(message.Body.Span));
        Assert.Equal("orders", message.Exchange);
        Assert.Equal("eu.created", message.RoutingKey);
        var trail = Assert.IsAssignableFrom<IList>(message.BasicProperties.Headers!["x-received-from"]);
        var entry = Assert.IsType<Dictionary<string, object?>>(Assert.Single(trail));
        Assert.Equal(CrossProtocolFixture.NatsClusterName, Text(entry["cluster-name"]));
        Assert.Equal("orders", Text(entry["exchange"]));
        Assert.Equal("/", Text(entry["vhost"]));
        Assert.StartsWith(nodes.Nats.Url, Text(entry["uri"]), StringComparison.Ordinal);
        Assert.Null(await rabbit.BasicGetAsync(queue, autoAck: true));
    }

    [Fact]
    public async Task Nats_amqp_headers_that_are_not_properties_reach_amqp_as_headers()
    {
        var rabbit = await OpenChannelAsync(nodes.Rabbit2);
        await rabbit.ExchangeDeclareAsync("fidelity", ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await rabbit.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await rabbit.QueueBindAsync(queue, "fidelity", "#");

        await StartEngineAsync(nodes.Rabbit2.AmqpUri(), NatsUri("fidelity"), "fidelity");
        await WaitForNatsSubjectsAsync("fidelity.>", "fidelity");

        var publisher = await ConnectNatsAsync("test-publisher");
        var headers = new NatsHeaders
        {
            ["amqp-foo"] = "x",
            ["amqp-priority"] = "high",
            ["amqp-timestamp"] = "yesterday",
            ["amqp-persistent"] = "maybe",
            ["amqp-message-id"] = "m1",
        };
        await publisher.PublishAsync("fidelity.a", "headers"u8.ToArray(), headers);
        await publisher.PingAsync();

        var message = await GetAsync(rabbit, queue);
        var received = message.BasicProperties.Headers!;
        Assert.Equal("x", Text(received["amqp-foo"]));
        Assert.Equal("high", Text(received["amqp-priority"]));
        Assert.Equal("yesterday", Text(received["amqp-timestamp"]));
        Assert.Equal("maybe", Text(received["amqp-persistent"]));
        Assert.False(received.ContainsKey("amqp-message-id"));
        Assert.Equal("m1", message.BasicProperties.MessageId);
        Assert.False(message.BasicProperties.IsPriorityPresent());
        Assert.False(message.BasicProperties.Persistent);
    }

    /// <summary>
    /// RabbitMQ 1 → NATS → RabbitMQ 2 with two engines. A message gets one hop into NATS; the second engine forwards it
    /// only if max-hops allows a second hop. With max-hops 1, a marker published directly on NATS after the message
    /// (same link, same order) arrives at RabbitMQ 2 first, proving the message was dropped rather than late.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Chain_amqp_to_nats_to_amqp_obeys_max_hops_across_the_protocol_boundary(int maxHops)
    {
        var exchange = $"chain{maxHops}";
        var rabbit1 = await OpenChannelAsync(nodes.Rabbit1);
        await rabbit1.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var rabbit2 = await OpenChannelAsync(nodes.Rabbit2);
        await rabbit2.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await rabbit2.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await rabbit2.QueueBindAsync(queue, exchange, "eu.#");

        // Interest propagates one hop only, so a local NATS subscriber makes the first engine pull from RabbitMQ 1;
        // it also shows that the message reached NATS.
        var subscriber = await ConnectNatsAsync("test-subscriber");
        var onNats = await subscriber.SubscribeCoreAsync<byte[]>($"{exchange}.eu.*");
        await subscriber.PingAsync();

        await StartEngineAsync(NatsUri(exchange), nodes.Rabbit1.AmqpUri(), exchange, maxHops);
        await StartEngineAsync(nodes.Rabbit2.AmqpUri(), NatsUri(exchange), exchange, maxHops);
        await WaitForNatsSubjectsAsync($"{exchange}.eu.>", $"{exchange}.eu");

        var viaNats = await PublishOnRabbitUntilReceivedAsync(rabbit1, exchange, "eu.created", onNats);
        Assert.Equal(nodes.Rabbit1.ClusterName, Assert.Single(NatsTrail(viaNats)).ClusterName);
        var body = Encoding.UTF8.GetString(viaNats.Data ?? []);

        var publisher = await ConnectNatsAsync("test-publisher");
        await publisher.PublishAsync($"{exchange}.eu.marker", "marker"u8.ToArray());
        await publisher.PingAsync();

        var first = await GetAsync(rabbit2, queue);
        if (maxHops == 1)
        {
            Assert.Equal("marker", Encoding.UTF8.GetString(first.Body.Span));
            Assert.Equal([CrossProtocolFixture.NatsClusterName], AmqpTrailClusters(first));
        }
        else
        {
            // Earlier attempts published before the upstream binding existed were dropped upstream; the observed one is forwarded.
            var received = new List<BasicGetResult> { first };
            while (Encoding.UTF8.GetString(received[^1].Body.Span) != body)
            {
                received.Add(await GetAsync(rabbit2, queue));
            }

            var forwarded = received[^1];
            Assert.Equal([CrossProtocolFixture.NatsClusterName, nodes.Rabbit1.ClusterName], AmqpTrailClusters(forwarded));
            Assert.Equal("eu.created", forwarded.RoutingKey);
        }
    }
}
