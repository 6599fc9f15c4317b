using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A link's durable consumer deleted by hand (with the JetStream API) while messages flow: the link creates it again
/// right after the last sequence it acknowledged, so nothing still in the upstream stream is skipped.
/// </summary>
public sealed class JetStreamConsumerDeletionTests(ITestOutputHelper output) : JetStreamServerPairTests("js-consdel-up", "js-consdel-down")
{
    private const string Exchange = "orders";
    private const int Batch = 2000;
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_consumer_deleted_under_a_running_link_is_created_again_after_the_last_acknowledged_sequence_and_nothing_is_lost()
    {
        var engine = StartEngine();
        var original = await WaitForConsumerAsync(engine);

        // Flowing: the first batch is on its way when the consumer goes.
        var first = JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, Batch);
        await WaitForCountAsync(engine, c => c > 0, "the first messages downstream");
        await using (var nats = new NatsConnection(new NatsOpts { Url = Upstream.Url, Name = "test-admin" }))
        {
            Assert.True(await new NatsJSContext(nats).DeleteConsumerAsync(Stream, original.Name));
        }

        // Published while the link has no consumer (it creates it again only on its next attempt, seconds later): a
        // consumer created again at "new messages only" skipped these.
        await first;
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, Batch, Batch);

        // And after it is back.
        await WaitForConsumerAsync(engine, c => c.Created != original.Created);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 2 * Batch, Batch);

        await WaitForCountAsync(engine, c => c == 3 * Batch, $"{3 * Batch} messages downstream");
        Assert.Equal(Enumerable.Range(0, 3 * Batch), (await JetStreamTestKit.ReadAllAsync(Downstream, Stream, 3 * Batch)).Order());
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(Upstream, Stream) is [{ NumPending: 0, NumAckPending: 0 }],
            () => "every upstream message acknowledged",
            Deadline);
        Assert.Equal(LinkState.Running, Assert.Single(engine.GetLinks()).State);
    }

    [Fact]
    public async Task A_new_link_starts_with_new_messages_only()
    {
        // Published before the link existed: a new link does not take over the stream's history.
        await using (var nats = new NatsConnection(new NatsOpts { Url = Upstream.Url, Name = "test-admin" }))
        {
            await new NatsJSContext(nats).CreateStreamAsync(new StreamConfig(Stream, [Exchange, Exchange + ".>"]));
        }

        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, 10);
        var engine = StartEngine();
        var consumer = await WaitForConsumerAsync(engine);
        Assert.Equal(ConsumerConfigDeliverPolicy.New, consumer.Config.DeliverPolicy);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 10, 10);

        await WaitForCountAsync(engine, c => c == 10, "the second ten downstream");
        Assert.Equal(Enumerable.Range(10, 10), (await JetStreamTestKit.ReadAllAsync(Downstream, Stream, 10)).Order());
    }

    [Fact]
    public async Task A_prefetch_count_above_the_servers_default_raises_the_consumers_max_ack_pending_and_a_later_run_raises_an_existing_one()
    {
        // The server's default max_ack_pending (1,000) capped a larger prefetch-count without a word.
        var first = StartEngine(prefetch: 2500);
        await JetStreamTestKit.EventuallyAsync(
            async () => (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)) is [{ Config.MaxAckPending: 2500 }],
            () => $"max_ack_pending 2500; links: {Describe(first)}",
            Deadline);
        await first.DisposeAsync();
        Engines.Remove(first);

        // The same link with a still larger prefetch takes the existing consumer over and raises its limit.
        var second = StartEngine(prefetch: 4000);
        await JetStreamTestKit.EventuallyAsync(
            async () => (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)) is [{ Config.MaxAckPending: 4000 }],
            () => $"max_ack_pending raised to 4000; links: {Describe(second)}",
            Deadline);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, 10);
        await WaitForCountAsync(second, c => c == 10, "ten messages downstream");
    }

    private FederationEngine StartEngine(int? prefetch = null)
    {
        var options = new FederationOptions
        {
            Downstream =
            {
                Uri = $"{Downstream.Url}?cluster-name=DOWN&monitor-port={Port(Downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{Upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        if (prefetch is { } count)
        {
            options.Upstreams["up"].PrefetchCount = count;
        }

        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        Engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private async Task<ConsumerInfo> WaitForConsumerAsync(FederationEngine engine, Func<ConsumerInfo, bool>? which = null)
    {
        ConsumerInfo? found = null;
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                found = (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).SingleOrDefault(c => which?.Invoke(c) ?? true);
                return found is not null;
            },
            () => $"the link's durable consumer upstream; links: {Describe(engine)}",
            Deadline);
        return found!;
    }

    private Task WaitForCountAsync(FederationEngine engine, Func<long, bool> condition, string what)
    {
        long count = 0;
        var upstream = "";
        return JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                count = await JetStreamTestKit.CountAsync(Downstream, Stream);
                upstream = string.Join("; ", (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).Select(c => $"{c.Name}: pending {c.NumPending}, ack pending {c.NumAckPending}, delivered {c.Delivered?.StreamSeq}, ack floor {c.AckFloor?.StreamSeq}"));
                return condition(count);
            },
            () => $"{what}, have {count}; upstream: {upstream}; links: {Describe(engine)}",
            Deadline);
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
