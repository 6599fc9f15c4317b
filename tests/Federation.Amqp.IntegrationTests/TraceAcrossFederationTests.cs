using System.Diagnostics;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Testing.Brokers;
using Federation.Transport.Contracts;
using Federation.Transport.Contracts.Tracing;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// One message's trace across a chain of four real RabbitMQ brokers (two nodes, two vhosts each: A = upstream node "/",
/// B = downstream node "/", C = upstream node's vhost, D = downstream node's vhost), recorded with the OpenTelemetry SDK's
/// in-memory exporter together with RabbitMQ.Client's own publisher and subscriber spans.
/// </summary>
[Collection(ClientTracingCollection.Name)]
public sealed class TraceAcrossFederationTests(ClientTracingNodesFixture nodes) : IAsyncLifetime
{
    private const int Forwards = 3;
    private readonly string _exchange = $"fed.trace.{Guid.NewGuid():N}";
    private readonly string _vhostC = $"trace-c-{Guid.NewGuid():N}";
    private readonly string _vhostD = $"trace-d-{Guid.NewGuid():N}";
    private readonly List<IAsyncDisposable> _resources = [];

    public async Task InitializeAsync()
    {
        await AddVirtualHostAsync(nodes.Upstream, _vhostC);
        await AddVirtualHostAsync(nodes.Downstream, _vhostD);
    }

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(_resources))
        {
            await resource.DisposeAsync();
        }

        await nodes.Upstream.CtlAsync(CancellationToken.None, "delete_vhost", _vhostC);
        await nodes.Downstream.CtlAsync(CancellationToken.None, "delete_vhost", _vhostD);
    }

    [Fact]
    public async Task A_published_trace_continues_through_three_forwards_as_one_trace()
    {
        using var recorder = new TraceRecorder("RabbitMQ.Client.Publisher", "RabbitMQ.Client.Subscriber");
        string[] chain = [nodes.Upstream.AmqpUri(), nodes.Downstream.AmqpUri(), nodes.Upstream.AmqpUri(_vhostC), nodes.Downstream.AmqpUri(_vhostD)];
        var transport = new AmqpTransport();
        var connections = new List<IBrokerConnection>();
        foreach (var uri in chain)
        {
            var connection = await transport.ConnectAsync(new ConnectionRequest(uri, "trace-test"), CancellationToken.None);
            _resources.Add(connection);
            await connection.DeclareExchangeAsync(new ExchangeSpec(_exchange, ExchangeSpec.Types.Topic, Durable: true, AutoDelete: false), CancellationToken.None);
            connections.Add(connection);
        }

        var queue = $"trace-sink-{Guid.NewGuid():N}";
        await connections[^1].DeclareQueueAsync(new QueueSpec(queue, Durable: false), CancellationToken.None);
        await connections[^1].BindAsync(new BindingSpec(_exchange, queue, BindingDestinationKind.Queue, "trace.#"), noWait: false, CancellationToken.None);
        var sink = await DeliveryRecorder.StartAsync(connections[^1], queue, new ConsumerOptions(10, AutoAck: true), ackOnReceipt: false, CancellationToken.None);

        for (var i = 1; i < chain.Length; i++)
        {
            await StartLinkAsync(downstream: chain[i], upstream: chain[i - 1]);
        }

        await using var publisher = await connections[0].OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        // Until the binding has propagated to A, publishes are dropped on the way; each attempt is a new trace with its
        // own message id, and the first one that arrives is the one whose trace is checked.
        var roots = new Dictionary<string, Activity>(StringComparer.Ordinal);
        var attempt = 0;
        var delivered = await Poll.UntilAsync(async () =>
        {
            var messageId = $"m{attempt++}";
            var (root, headers) = TraceRecorder.StartPublish(_exchange);
            using (root)
            {
                roots[messageId] = root;
                await publisher.PublishAsync(_exchange, "trace.item", new MessageProperties { MessageId = messageId, Headers = headers }, "traced"u8.ToArray(), CancellationToken.None);
            }

            return sink.Deliveries is [var first, ..] ? first : null;
        }, "a traced message published on A should arrive on D");

        var traced = roots[delivered.Properties.MessageId!];
        var spans = await recorder.WaitForForwardsAsync(traced.TraceId, Forwards, Poll.Deadline);
        TraceChainAssertions.AssertChain(spans, traced, Forwards, _exchange, "rabbitmq", delivered.Properties.MessageId!,
            Assert.IsType<string>(delivered.Properties.Headers!["traceparent"]));

        // RabbitMQ.Client's own publish spans were listened to: each re-injected the headers under the link's producer
        // span, and the chain held. The AMQP header table has one traceparent by construction.
        Assert.Contains(spans, s => s.Source.Name == "RabbitMQ.Client.Publisher");
        Assert.Equal("federation-test=1", delivered.Properties.Headers!["tracestate"]);
    }

    private async Task StartLinkAsync(string downstream, string upstream)
    {
        var options = new FederationOptions { Downstream = { Uri = downstream } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { upstream }, MaxHops = Forwards, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(_exchange) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var engine = new FederationEngine(options, [new AmqpTransport()]);
        _resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), $"the link into {UriRedaction.Redact(downstream)} should run");
    }

    private static async Task AddVirtualHostAsync(RabbitMqNode node, string vhost)
    {
        var added = await node.CtlAsync(CancellationToken.None, "add_vhost", vhost);
        Assert.True(added.ExitCode == 0, added.Output);
        var permitted = await node.CtlAsync(CancellationToken.None, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
        Assert.True(permitted.ExitCode == 0, permitted.Output);
    }
}
