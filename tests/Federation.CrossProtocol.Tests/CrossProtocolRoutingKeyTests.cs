using System.Globalization;
using System.Text;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using NATS.Client.Core;
using RabbitMQ.Client;

namespace Federation.CrossProtocol.Tests;

/// <summary>
/// A NATS subject can be far longer than the 255 bytes an AMQP routing key may have. A link from NATS into RabbitMQ that
/// meets one neither loops (restarting over the message) nor loses it silently: it counts it as <c>too_large</c>, logs
/// the episode naming the exchange and the key's length, settles it upstream and forwards what follows.
/// </summary>
[Collection(CrossProtocolCollection.Name)]
public sealed class CrossProtocolRoutingKeyTests(CrossProtocolFixture nodes) : IAsyncLifetime
{
    private const string Exchange = "longkeys";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly List<IAsyncDisposable> resources = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_subject_too_long_for_an_amqp_routing_key_is_counted_as_too_large_and_the_link_goes_on()
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{nodes.Rabbit2.AmqpPort}/") };
        var amqp = await factory.CreateConnectionAsync();
        resources.Add(amqp);
        var rabbit = await amqp.CreateChannelAsync();
        resources.Add(rabbit);
        await rabbit.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await rabbit.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await rabbit.QueueBindAsync(queue, Exchange, "eu.#");

        using var log = new CapturedLog();
        var options = new FederationOptions { Downstream = { Uri = nodes.Rabbit2.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{nodes.Nats.Url}?cluster-name={CrossProtocolFixture.NatsClusterName}&monitor-port={nodes.Nats.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces={Exchange}" },
            ReconnectDelaySeconds = 1,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", ApplyTo = "exchanges", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new AmqpTransport(), new NatsTransport()], log);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);

        var publisher = new NatsConnection(NatsOpts.Default with { Url = nodes.Nats.Url, Name = "long-key-publisher" });
        resources.Add(publisher);
        await publisher.ConnectAsync();

        // Interest reaches the upstream asynchronously: probe until one crosses, then drain the probes.
        await UntilAsync(
            async () =>
            {
                await publisher.PublishAsync($"{Exchange}.eu.probe", "probe"u8.ToArray());
                await publisher.PingAsync();
                return await rabbit.BasicGetAsync(queue, autoAck: true) is not null;
            },
            () => $"the link forwarding {Exchange}.eu.>; links: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}");
        while (await rabbit.BasicGetAsync(queue, autoAck: true) is not null)
        {
        }

        var longKey = "eu." + new string('k', 300);
        await publisher.PublishAsync($"{Exchange}.{longKey}", "too-long"u8.ToArray());
        await publisher.PublishAsync($"{Exchange}.eu.after", "after"u8.ToArray());
        await publisher.PingAsync();

        BasicGetResult? next = null;
        await UntilAsync(async () => (next = await rabbit.BasicGetAsync(queue, autoAck: true)) is not null && next.RoutingKey != "eu.probe", () => "the message after the long key");
        Assert.Equal("eu.after", next!.RoutingKey);
        Assert.Equal("after", Encoding.UTF8.GetString(next.Body.Span));

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("too_large"));
        Assert.Contains($"exchange '{Exchange}' has a routing key of {Encoding.UTF8.GetByteCount(longKey).ToString(CultureInfo.InvariantCulture)} bytes", log.Text, StringComparison.Ordinal);
        Assert.Contains("(too_large)", log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Headers_too_long_for_amqp_short_strings_are_counted_as_too_large_and_the_link_goes_on()
    {
        const string exchange = "longheaders";
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{nodes.Rabbit2.AmqpPort}/") };
        var amqp = await factory.CreateConnectionAsync();
        resources.Add(amqp);
        var rabbit = await amqp.CreateChannelAsync();
        resources.Add(rabbit);
        await rabbit.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await rabbit.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await rabbit.QueueBindAsync(queue, exchange, "eu.#");

        using var log = new CapturedLog();
        var options = new FederationOptions { Downstream = { Uri = nodes.Rabbit2.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{nodes.Nats.Url}?cluster-name={CrossProtocolFixture.NatsClusterName}&monitor-port={nodes.Nats.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces={exchange}" },
            ReconnectDelaySeconds = 1,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{exchange}$", ApplyTo = "exchanges", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new AmqpTransport(), new NatsTransport()], log);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);

        var publisher = new NatsConnection(NatsOpts.Default with { Url = nodes.Nats.Url, Name = "long-header-publisher" });
        resources.Add(publisher);
        await publisher.ConnectAsync();
        await UntilAsync(
            async () =>
            {
                await publisher.PublishAsync($"{exchange}.eu.probe", "probe"u8.ToArray());
                await publisher.PingAsync();
                return await rabbit.BasicGetAsync(queue, autoAck: true) is not null;
            },
            () => $"the link forwarding {exchange}.eu.>; links: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}");
        while (await rabbit.BasicGetAsync(queue, autoAck: true) is not null)
        {
        }

        // A NATS header name, and a value mapped to an AMQP short-string property, each longer than 255 bytes; then a
        // message that fits. Before, the client threw while writing the first, the link restarted over it, and a core NATS
        // link lost what it had buffered (the message behind it too) without counting it.
        await publisher.PublishAsync($"{exchange}.eu.long-name", "long-name"u8.ToArray(), new NatsHeaders { [new string('h', 300)] = "v" });
        await publisher.PublishAsync($"{exchange}.eu.long-type", "long-type"u8.ToArray(), new NatsHeaders { ["amqp-content-type"] = new string('c', 300) });
        await publisher.PublishAsync($"{exchange}.eu.after", "after"u8.ToArray(), new NatsHeaders { ["amqp-content-type"] = "text/plain" });
        await publisher.PingAsync();

        BasicGetResult? next = null;
        await UntilAsync(async () => (next = await rabbit.BasicGetAsync(queue, autoAck: true)) is not null && next.RoutingKey != "eu.probe", () => "the message after the long headers");
        Assert.Equal("eu.after", next!.RoutingKey);
        Assert.Equal("text/plain", next.BasicProperties.ContentType);

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(2, link.DroppedMessages?.GetValueOrDefault("too_large"));
        Assert.Contains("has a header name of 300 bytes", log.Text, StringComparison.Ordinal);
        Assert.Contains("(too_large)", log.Text, StringComparison.Ordinal);
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
}
