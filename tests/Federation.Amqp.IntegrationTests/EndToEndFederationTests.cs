using System.Collections;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A <see cref="FederationEngine"/> federating an exchange between two real RabbitMQ nodes over <see cref="AmqpTransport"/>.
/// The applications on both sides use the plain RabbitMQ.Client, as real applications would.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class EndToEndFederationTests(FederationNodesFixture nodes) : IAsyncLifetime
{
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
    public async Task MessagesPublishedUpstream_ArriveDownstream_WithTheXReceivedFromEntry()
    {
        var exchange = $"fed.orders.{Guid.NewGuid():N}";
        var downstream = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        var upstream = await OpenChannelAsync(nodes.Upstream.AmqpPort);
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await downstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await downstream.QueueBindAsync(queue, exchange, "order.*");

        var engine = await StartEngineAsync(nodes.Upstream.AmqpUri());
        await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), "the link should run");

        // Until the binding has propagated upstream, publishes are dropped there; keep publishing fresh ids until one arrives.
        BasicGetResult? arrived = null;
        var attempt = 0;
        await Poll.UntilAsync(async () =>
        {
            await upstream.BasicPublishAsync(exchange, "order.created", true, new BasicProperties { MessageId = $"m{attempt++}" }, Encoding.UTF8.GetBytes("hello"));
            arrived = await downstream.BasicGetAsync(queue, autoAck: true);
            return arrived;
        }, "a message published upstream should arrive downstream");

        Assert.Equal("hello", Encoding.UTF8.GetString(arrived!.Body.Span));
        Assert.Equal("order.created", arrived.RoutingKey);
        var trail = Assert.IsAssignableFrom<IList>(arrived.BasicProperties.Headers!["x-received-from"]);
        var entry = Assert.IsType<Dictionary<string, object?>>(Assert.Single(trail));
        Assert.Equal(nodes.Upstream.ClusterName, Text(entry["cluster-name"]));
        Assert.Equal("/", Text(entry["vhost"]));
        Assert.Equal(exchange, Text(entry["exchange"]));
        Assert.DoesNotContain("guest", Text(entry["uri"]), StringComparison.Ordinal);
        // As the plugin writes it: scheme, host, port and vhost path, without the URI's query (here management-port).
        Assert.Equal($"amqp://127.0.0.1:{nodes.Upstream.AmqpPort}/%2F", Text(entry["uri"]));
        Assert.IsType<bool>(entry["redelivered"]);
    }

    [Fact]
    public async Task UnreachableUpstream_PutsTheLinkInError_WithoutCredentials()
    {
        var exchange = $"fed.unreachable.{Guid.NewGuid():N}";
        var downstream = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var port = Federation.Testing.Brokers.FreePorts.Next();

        var engine = await StartEngineAsync($"amqp://guest:s3cr3t@127.0.0.1:{port}/?connection_timeout=2000", exchangeFilter: exchange);

        var link = await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l.State == LinkState.Error)), "the link should report an error");
        Assert.False(string.IsNullOrEmpty(link.Error));
        Assert.DoesNotContain("s3cr3t", link.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", link.Uri, StringComparison.Ordinal);
    }

    private static string Text(object? value) => Encoding.UTF8.GetString(Assert.IsType<byte[]>(value));

    private async Task<FederationEngine> StartEngineAsync(string upstreamUri, string? exchangeFilter = null)
    {
        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { upstreamUri }, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = exchangeFilter is null ? "^fed\\.orders\\." : "^" + System.Text.RegularExpressions.Regex.Escape(exchangeFilter) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var engine = new FederationEngine(options, [new AmqpTransport()]);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private async Task<IChannel> OpenChannelAsync(int port)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync();
        resources.Add(channel);
        return channel;
    }
}
