using System.Security.Cryptography;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A message as large as RabbitMQ accepts crosses the link. RabbitMQ 3.10 takes bodies up to 128 MiB by default
/// (<c>max_message_size</c>, at most 512 MiB), and RabbitMQ.Client refuses any over 64 MiB unless told otherwise: it
/// closed the link's upstream connection over such a delivery (501), the message went back to the head of the queue,
/// and the link restarted into it again, forever, with nothing behind it forwarded.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class LargeMessageTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private const int LargeBodySize = (65 * 1024 * 1024) + 17;
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
    public async Task A_body_over_the_clients_default_limit_crosses_between_the_messages_around_it()
    {
        var exchange = $"fed.large.{Guid.NewGuid():N}";
        var downstream = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        var upstream = await OpenChannelAsync(nodes.Upstream.AmqpPort, new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        var queue = (await downstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await downstream.QueueBindAsync(queue, exchange, string.Empty);

        var engine = await StartEngineAsync(exchange);
        var running = await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), "the link should run");

        // Until the binding has propagated upstream, publishes are dropped there: publish probes until one arrives.
        var attempt = 0;
        await Poll.UntilAsync(async () =>
        {
            await upstream.BasicPublishAsync(exchange, string.Empty, true, new BasicProperties { MessageId = $"probe{attempt++}" }, Encoding.UTF8.GetBytes("probe"));
            return await downstream.BasicGetAsync(queue, autoAck: true);
        }, "a probe published upstream should arrive downstream");

        var large = RandomNumberGenerator.GetBytes(LargeBodySize);
        await upstream.BasicPublishAsync(exchange, string.Empty, true, new BasicProperties { MessageId = "before" }, Encoding.UTF8.GetBytes("before"));
        await upstream.BasicPublishAsync(exchange, string.Empty, true, new BasicProperties { MessageId = "large" }, large);
        await upstream.BasicPublishAsync(exchange, string.Empty, true, new BasicProperties { MessageId = "after" }, Encoding.UTF8.GetBytes("after"));

        var arrived = new List<(string Id, byte[] Body)>();
        await Poll.UntilAsync(async () =>
        {
            while (await downstream.BasicGetAsync(queue, autoAck: true) is { } got)
            {
                if (got.BasicProperties.MessageId?.StartsWith("probe", StringComparison.Ordinal) != true)
                {
                    arrived.Add((got.BasicProperties.MessageId ?? "?", got.Body.ToArray()));
                }
            }

            return arrived.Any(a => a.Id == "after") ? arrived : null;
        }, $"the message after the large one should arrive downstream; links: {string.Join("; ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}", TimeSpan.FromSeconds(60));

        Assert.Equal(["before", "large", "after"], arrived.Select(a => a.Id));
        Assert.True(large.AsSpan().SequenceEqual(arrived[1].Body), "the large body should arrive unchanged");
        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(running.Since, link.Since);
    }

    private async Task<FederationEngine> StartEngineAsync(string exchange)
    {
        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(exchange) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var engine = new FederationEngine(options, [new AmqpTransport()]);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private async Task<IChannel> OpenChannelAsync(int port, CreateChannelOptions? options = null)
    {
        // The test's own client must take the large body too.
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/"), MaxInboundMessageBodySize = 512 * 1024 * 1024 };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync(options);
        resources.Add(channel);
        return channel;
    }
}
