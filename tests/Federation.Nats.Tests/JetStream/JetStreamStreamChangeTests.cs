using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A reload that moves a durable link from one stream to another (<c>stream=</c>): the link's durable consumer has the same
/// name on both. Deleting the old definition's queue, as the engine does between runs and at a sweep's second look (on a
/// connection of the old URI, where the queue is not attached), deleted the consumer of that name on every stream, the new
/// run's included, which lost its position and what it had not acknowledged.
/// </summary>
public sealed class JetStreamStreamChangeTests(ITestOutputHelper output) : JetStreamServerPairTests("js-stream-up", "js-stream-down")
{
    private const string Exchange = "orders";
    private const int Batch = 500;

    // Streams cannot capture overlapping subjects: the old one takes the bare subject, the new one what is published.
    private const string NewStream = "S2";

    // As the engine names the link's upstream queue (same exchange and vhost on both sides).
    private const string Queue = "federation: " + Exchange + " -> DOWN";
    private static readonly string DownstreamStream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    /// <param name="named">The old URI's <c>stream=</c>; null: none, the link read the exchange's own stream.</param>
    [Theory]
    [InlineData("S1")]
    [InlineData(null)]
    public async Task Deleting_the_old_streams_queue_leaves_the_new_runs_consumer_alone(string? named)
    {
        // Without stream=, the link uses the exchange's own stream as it finds it (here made to capture the bare subject).
        var oldStream = named ?? "federation-" + Exchange;
        await CreateStreamAsync(oldStream, Exchange);
        await CreateStreamAsync(NewStream, Exchange + ".>");
        var engine = new FederationEngine(Options(named), [new NatsTransport()], new TestOutputLoggerFactory(output));
        Engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
        await WaitForConsumerAsync(engine, oldStream);

        await engine.UpdateAsync(Options(NewStream), CancellationToken.None);
        var current = await WaitForConsumerAsync(engine, NewStream);
        Assert.Equal(JetStreamNames.ConsumerFor(Queue), current.Name);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, Batch);
        await WaitForDownstreamAsync(engine, Batch);

        // The old definition's consumer, as one kept for another instance still on the old stream would be.
        await using (var nats = new NatsConnection(new NatsOpts { Url = Upstream.Url, Name = "test-leftover" }))
        {
            await new NatsJSContext(nats).CreateOrUpdateConsumerAsync(oldStream, new ConsumerConfig(current.Name) { AckPolicy = ConsumerConfigAckPolicy.Explicit });
        }

        // What the engine's deletion of the old definition's queue does: a connection of the old URI, the link's exchange.
        var old = await new NatsTransport().ConnectAsync(new ConnectionRequest(UpstreamUri(named), "Federation link test"), CancellationToken.None);
        await using (old)
        {
            await old.DeleteUpstreamQueueAsync(Queue, Exchange, CancellationToken.None);
        }

        Assert.Empty(await JetStreamTestKit.ConsumersAsync(Upstream, oldStream));
        var after = Assert.Single(await JetStreamTestKit.ConsumersAsync(Upstream, NewStream));
        Assert.Equal(current.Created, after.Created);

        // The new run goes on from where it was: everything arrives.
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, Batch, Batch);
        await WaitForDownstreamAsync(engine, 2 * Batch);
        Assert.Equal(LinkState.Running, Assert.Single(engine.GetLinks()).State);
    }

    private async Task CreateStreamAsync(string name, string subject)
    {
        await using var nats = new NatsConnection(new NatsOpts { Url = Upstream.Url, Name = "test-streams" });
        await new NatsJSContext(nats).CreateStreamAsync(new StreamConfig(name, [subject]));
    }

    private async Task<ConsumerInfo> WaitForConsumerAsync(FederationEngine engine, string stream)
    {
        ConsumerInfo? found = null;
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                found = (await JetStreamTestKit.ConsumersAsync(Upstream, stream)).SingleOrDefault();
                return found is not null && engine.GetLinks() is [{ State: LinkState.Running }];
            },
            () => $"the link running with its durable consumer on '{stream}'; links: {Describe(engine)}",
            Deadline);
        return found!;
    }

    private async Task WaitForDownstreamAsync(FederationEngine engine, int count)
    {
        var received = new List<int>();
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                received = await JetStreamTestKit.ReadAllAsync(Downstream, DownstreamStream, count);
                return received.Distinct().Count() >= count;
            },
            () => $"{count} distinct messages downstream, have {received.Distinct().Count()}; upstream consumers on '{NewStream}': {string.Join(", ", JetStreamTestKit.ConsumersAsync(Upstream, NewStream).GetAwaiter().GetResult().Select(c => c.Name))}; links: {Describe(engine)}",
            Deadline);
        Assert.Equal(Enumerable.Range(0, count), received.Distinct().Order());
    }

    private string UpstreamUri(string? stream) => $"{Upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000{(stream is null ? "" : "&stream=" + stream)}";

    private FederationOptions Options(string? stream)
    {
        var options = new FederationOptions
        {
            Downstream =
            {
                Uri = $"{Downstream.Url}?cluster-name=DOWN&monitor-port={Downstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { UpstreamUri(stream) },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        return options;
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));
}
