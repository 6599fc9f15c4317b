using System.Globalization;
using System.Text;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using RabbitMQ.Client;

namespace Federation.CrossProtocol.Tests;

/// <summary>
/// On-confirm across protocols with a durable NATS side: an AMQP upstream into a JetStream downstream (each message
/// acknowledged to RabbitMQ only after the stream's PubAck), and a JetStream upstream into an AMQP downstream (each
/// message acknowledged to JetStream only after RabbitMQ's publisher confirm). Every message arrives.
/// </summary>
[Collection(CrossProtocolCollection.Name)]
public sealed class CrossProtocolJetStreamTests(CrossProtocolFixture nodes) : IAsyncLifetime
{
    private const int Messages = 10_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly List<IAsyncDisposable> _resources = [];
    private NatsServerProcess _nats = null!;

    public async Task InitializeAsync() => _nats = await NatsServerProcess.StartJetStreamAsync("xproto-js");

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(_resources))
        {
            await resource.DisposeAsync();
        }

        await _nats.DisposeAsync();
    }

    [Fact]
    public async Task Amqp_upstream_into_a_jetstream_downstream_loses_nothing()
    {
        const string Exchange = "js-in";
        var rabbit = await OpenChannelAsync(nodes.Rabbit1, confirms: true);
        await rabbit.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var downstream = $"{_nats.Url}?cluster-name=JS-DOWN&monitor-port={Port(_nats.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true";
        await StartEngineAsync(downstream, nodes.Rabbit1.AmqpUri(), Exchange);

        // The downstream stream's own subscriptions are the interest; once a probe arrives, the binding is in place upstream.
        var stream = "federation-" + Exchange;
        var probe = 0;
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                await rabbit.BasicPublishAsync(Exchange, "probe", true, new BasicProperties(), Encoding.UTF8.GetBytes($"probe-{probe++}"));
                return await JetStreamTestKit.CountAsync(_nats, stream) > 0;
            },
            () => "a probe in the JetStream downstream",
            TimeSpan.FromSeconds(30));

        for (var i = 0; i < Messages; i++)
        {
            await rabbit.BasicPublishAsync(Exchange, $"k.{i % 10}", true, new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture)));
        }

        List<string> bodies = [];
        await JetStreamTestKit.EventuallyAsync(
            async () => (bodies = await JetStreamTestKit.ReadAllTextAsync(_nats, stream)).Count(b => !b.StartsWith("probe-", StringComparison.Ordinal)) >= Messages,
            () => $"{Messages} messages in the downstream stream; have {bodies.Count}",
            Deadline);
        var numbers = bodies.Where(b => !b.StartsWith("probe-", StringComparison.Ordinal)).Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToHashSet();
        Assert.Equal(Enumerable.Range(0, Messages), numbers.Order());
    }

    [Fact]
    public async Task Jetstream_upstream_into_an_amqp_downstream_loses_nothing()
    {
        const string Exchange = "js-out";
        var rabbit = await OpenChannelAsync(nodes.Rabbit2, confirms: false);
        await rabbit.ExchangeDeclareAsync(Exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await rabbit.QueueDeclareAsync("js-out-sink", durable: true, exclusive: false, autoDelete: false)).QueueName;
        await rabbit.QueuePurgeAsync(queue);
        await rabbit.QueueBindAsync(queue, Exchange, "#");

        var upstream = $"{_nats.Url}?cluster-name=JS-UP&jetstream=true&ack-wait-ms=5000";
        await StartEngineAsync(nodes.Rabbit2.AmqpUri(), upstream, Exchange);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(_nats, "federation-" + Exchange) is [_],
            () => "the link's durable consumer on the upstream stream",
            Deadline);

        await JetStreamTestKit.PublishConfirmedAsync(_nats, Exchange, 0, Messages);

        var received = new HashSet<int>();
        var total = 0;
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                // Drain what is there now; the kit polls again until every message has arrived.
                while (await rabbit.BasicGetAsync(queue, autoAck: true) is { } message)
                {
                    received.Add(int.Parse(Encoding.UTF8.GetString(message.Body.Span), CultureInfo.InvariantCulture));
                    total++;
                    Assert.NotNull(message.BasicProperties.Headers);
                    Assert.True(message.BasicProperties.Headers.ContainsKey("Nats-Msg-Id"), "the message carries its JetStream identity");
                }

                return received.Count >= Messages;
            },
            () => $"{Messages} messages in {queue}; have {received.Count}",
            Deadline);

        Assert.Equal(Enumerable.Range(0, Messages), received.Order());
        Assert.Equal(Messages, total);
    }

    private async Task StartEngineAsync(string downstreamUri, string upstreamUri, string exchange)
    {
        var options = new FederationOptions { Downstream = { Uri = downstreamUri } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { upstreamUri }, ReconnectDelaySeconds = 0.5, PrefetchCount = 1000 };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = $"^{exchange}$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var engine = new FederationEngine(options, [new AmqpTransport(), new NatsTransport()]);
        _resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(engine.GetLinks() is [{ State: LinkState.Running }]),
            () => $"a running link for {exchange}; have {string.Join(", ", engine.GetLinks().Select(l => $"{l.Exchange} {l.State} {l.Error}"))}",
            Deadline);
    }

    private async Task<IChannel> OpenChannelAsync(RabbitMqNode node, bool confirms)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") };
        var connection = await factory.CreateConnectionAsync();
        _resources.Add(connection);
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: confirms, publisherConfirmationTrackingEnabled: confirms));
        _resources.Add(channel);
        return channel;
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
