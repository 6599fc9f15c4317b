using System.Globalization;
using Federation.Core;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A message whose producer's <c>Nats-Msg-Id</c> another message already has in the downstream stream: the stream drops
/// it, its PubAck (<c>duplicate: true</c>) confirms it and the link acknowledges it upstream, so the link must count it as
/// dropped rather than as forwarded only.
/// </summary>
public sealed class JetStreamProducerIdCollisionTests(ITestOutputHelper output) : JetStreamServerPairTests("collide-up", "collide-down")
{
    private const string Exchange = "orders";
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_different_message_with_a_producer_id_the_downstream_already_holds_is_counted_as_dropped()
    {
        var engine = StartEngine();
        Engines.Add(engine);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(Upstream, Stream) is [_],
            () => $"the link's durable consumer upstream; links: {Describe(engine)}",
            Deadline);

        await using var nats = new NatsConnection(new NatsOpts { Url = Upstream.Url, Name = "test-producer" });
        await nats.ConnectAsync();
        var js = new NatsJSContext(nats);
        (await js.PublishAsync($"{Exchange}.eu", "first order-7"u8.ToArray(), opts: new NatsJSPubOpts { MsgId = "order-7" })).EnsureSuccess();
        long count = 0;
        await JetStreamTestKit.EventuallyAsync(
            async () => (count = await JetStreamTestKit.CountAsync(Downstream, Stream)) == 1,
            () => $"the first message downstream; have {count}; links: {Describe(engine)}",
            Deadline);

        // The same id for another message, as a producer at a second site that numbers alike would give it. The upstream
        // stream's duplicate window (100 ms here) takes it once that window has passed; the downstream's (2 min) does not.
        await JetStreamTestKit.EventuallyAsync(
            async () => (await js.PublishAsync($"{Exchange}.us", "second order-7"u8.ToArray(), opts: new NatsJSPubOpts { MsgId = "order-7" })).Duplicate == false,
            () => "the upstream stream to store the second message",
            Deadline);

        IReadOnlyDictionary<string, long>? dropped = null;
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                dropped = engine.GetLinks().Single().DroppedMessages;
                return dropped?.GetValueOrDefault("downstream_duplicate") == 1
                    && await JetStreamTestKit.ConsumersAsync(Upstream, Stream) is [{ NumPending: 0, NumAckPending: 0 }];
            },
            () => $"the second message counted as dropped (downstream_duplicate) and acknowledged upstream; dropped: {(dropped is null ? "none" : string.Join(", ", dropped))}; links: {Describe(engine)}",
            Deadline);

        Assert.Equal(["first order-7"], await JetStreamTestKit.ReadAllTextAsync(Downstream, Stream));
        Assert.Equal("downstream_duplicate", Assert.Single(dropped!).Key); // nothing else dropped
    }

    private FederationEngine StartEngine()
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
            Uris = { $"{Upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000&duplicate-window-ms=100" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        _ = engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
