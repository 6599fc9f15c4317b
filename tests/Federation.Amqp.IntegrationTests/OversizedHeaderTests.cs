using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A message whose headers nearly fill an AMQP frame is valid upstream, but the hop trail the link adds pushes its
/// content header over the downstream connection's <c>frame_max</c>. Written, it made RabbitMQ close the engine's whole
/// downstream connection (501 FRAME_ERROR): every link and lease on it, again at every redelivery, and nothing behind it
/// was ever forwarded. Now the link refuses it before writing, rejects it upstream and goes on.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class OversizedHeaderTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private static readonly string[] BeforeAndAfter = ["before", "after"];
    private readonly List<IAsyncDisposable> resources = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(true)]   // the ledger's transactional units
    [InlineData(false)]  // the confirming publisher
    public async Task AMessageThatOutgrowsAFrameDownstream_IsRejectedUpstream_AndTheMessagesAroundItArrive(bool duplicateSuppression)
    {
        var exchange = $"fed.frame.{Guid.NewGuid():N}";
        var (downstreamConnection, downstream) = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        // With confirms tracked, each publish below returns once the upstream broker has the message.
        var (upstreamConnection, upstream) = await OpenChannelAsync(nodes.Upstream.AmqpPort, new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await downstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await downstream.QueueBindAsync(queue, exchange, "#");

        var engine = await StartEngineAsync(exchange, duplicateSuppression);
        var running = await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), "the link should run");

        // Until the binding has propagated upstream, publishes are dropped there: publish probes until one arrives.
        var attempt = 0;
        await Poll.UntilAsync(async () =>
        {
            await upstream.BasicPublishAsync(exchange, "probe", true, new BasicProperties { MessageId = $"probe{attempt++}" }, Encoding.UTF8.GetBytes("probe"));
            return await downstream.BasicGetAsync(queue, autoAck: true);
        }, "a probe published upstream should arrive downstream");

        // Fits in a frame upstream (the publish is confirmed), but not with the x-received-from entry added.
        var big = PropertiesFillingAFrame(upstreamConnection.FrameMax, spare: 40);
        await upstream.BasicPublishAsync(exchange, "before", true, new BasicProperties { MessageId = "before" }, Encoding.UTF8.GetBytes("before"));
        await upstream.BasicPublishAsync(exchange, "big", true, big, Encoding.UTF8.GetBytes("big"));
        // Once it is refused, the rejected delivery is the last one the link settled: the next ack must not name it.
        await Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.DroppedMessages?.GetValueOrDefault("too_large") == 1)),
            "the oversized message should be counted as too_large");
        await upstream.BasicPublishAsync(exchange, "after", true, new BasicProperties { MessageId = "after" }, Encoding.UTF8.GetBytes("after"));

        var arrived = new List<string>();
        await Poll.UntilAsync(async () =>
        {
            while (await downstream.BasicGetAsync(queue, autoAck: true) is { } got)
            {
                // A probe published while the binding propagated may still come in after the first one.
                if (got.BasicProperties.MessageId?.StartsWith("probe", StringComparison.Ordinal) != true)
                {
                    arrived.Add(got.BasicProperties.MessageId ?? "?");
                }
            }

            return arrived.Contains("after") ? arrived : null;
        }, "the message after the oversized one should arrive downstream");

        Assert.Equal(BeforeAndAfter, arrived);
        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("too_large"));
        // Neither the downstream connection nor the upstream channel was lost: the link ran throughout.
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(running.Since, link.Since);
        Assert.Equal(0u, await upstream.MessageCountAsync(UpstreamQueue(exchange)));
        Assert.True(downstreamConnection.IsOpen);
    }

    /// <summary>Properties with one header that leaves exactly <paramref name="spare"/> bytes of a frame's content header.</summary>
    private static BasicProperties PropertiesFillingAFrame(uint frameMax, int spare)
    {
        const int frameOverhead = 8, contentHeaderPrefix = 12;
        var properties = new BasicProperties { MessageId = "big", Headers = new Dictionary<string, object?> { ["pad"] = string.Empty } };
        var room = (int)frameMax - frameOverhead - contentHeaderPrefix - spare;
        properties.Headers["pad"] = new string('p', room - Written(properties));
        Assert.Equal(room, Written(properties));
        return properties;
    }

    private static int Written(BasicProperties properties)
    {
        IAmqpWriteable writeable = properties;
        var buffer = new byte[writeable.GetRequiredBufferSize()];
        return writeable.WriteTo(buffer);
    }

    private string UpstreamQueue(string exchange) => $"federation: {exchange} -> {nodes.Downstream.ClusterName}";

    private async Task<FederationEngine> StartEngineAsync(string exchange, bool duplicateSuppression)
    {
        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1, DuplicateSuppression = duplicateSuppression };
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

    private async Task<(IConnection Connection, IChannel Channel)> OpenChannelAsync(int port, CreateChannelOptions? options = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync(options);
        resources.Add(channel);
        return (connection, channel);
    }
}
