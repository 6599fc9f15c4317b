using System.Globalization;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using NATS.Client.Core;
using RabbitMQ.Client;

namespace Federation.CrossProtocol.Tests;

/// <summary>
/// NATS headers are text, and any publisher may send <c>amqp-expiration: abc</c> or <c>CC: x</c>. RabbitMQ closes the
/// channel over such a publish (406: an expiration that is not a number, a CC or BCC header that is not an array); the link
/// took that for a broken downstream and restarted over the message, losing the messages behind it on a core NATS link
/// and stalling for ever on a JetStream one (black-box run, 8 Dec 2026). Now each is counted as
/// <c>downstream_rejected</c> and the link goes on.
/// </summary>
[Collection(CrossProtocolCollection.Name)]
public sealed class CrossProtocolBrokerPreconditionTests(CrossProtocolFixture nodes) : IAsyncLifetime
{
    private const string Exchange = "preconditions";
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
    public async Task An_expiration_or_cc_header_rabbitmq_refuses_is_counted_as_downstream_rejected_and_the_link_goes_on()
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

        var publisher = new NatsConnection(NatsOpts.Default with { Url = nodes.Nats.Url, Name = "precondition-publisher" });
        resources.Add(publisher);
        await publisher.ConnectAsync();
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

        await publisher.PublishAsync($"{Exchange}.eu.expiration", "x"u8.ToArray(), new NatsHeaders { ["amqp-expiration"] = "abc" });
        await publisher.PublishAsync($"{Exchange}.eu.cc", "x"u8.ToArray(), new NatsHeaders { ["CC"] = "other.key" });
        await publisher.PublishAsync($"{Exchange}.eu.bcc", "x"u8.ToArray(), new NatsHeaders { ["BCC"] = "other.key" });
        await publisher.PublishAsync($"{Exchange}.eu.after", "after"u8.ToArray(), new NatsHeaders { ["amqp-expiration"] = "+60000" });
        await publisher.PingAsync();

        BasicGetResult? next = null;
        await UntilAsync(async () => (next = await rabbit.BasicGetAsync(queue, autoAck: true)) is not null && next.RoutingKey != "eu.probe", () => "the message after the refused ones");
        Assert.Equal("eu.after", next!.RoutingKey);
        Assert.Equal("+60000", next.BasicProperties.Expiration);

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(3, link.DroppedMessages?.GetValueOrDefault("downstream_rejected"));
        Assert.Contains("has the expiration 'abc', which RabbitMQ refuses", log.Text, StringComparison.Ordinal);
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
