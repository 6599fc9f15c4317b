using Federation.Core;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A JetStream downstream without <c>monitor-port</c>, as the README's durable section configures it: the streams the
/// connection ensures for its <c>namespaces</c> are the interest, so the link captures upstream and forwards without any
/// binding made through the library. (It once ran with no interest at all: running, with no stream or consumer upstream.)
/// </summary>
public sealed class JetStreamWithoutMonitorTests(ITestOutputHelper output) : JetStreamServerPairTests("js-nomon-up", "js-nomon-down")
{
    private const string Exchange = "orders";
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_durable_link_to_a_downstream_without_monitor_port_captures_and_forwards()
    {
        var options = new FederationOptions { Downstream = { Uri = $"{Downstream.Url}?cluster-name=DOWN&namespaces={Exchange}&jetstream=true" } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { $"{Upstream.Url}?cluster-name=UP&jetstream=true" } };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        Engines.Add(engine);
        await engine.StartAsync(CancellationToken.None);

        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(Upstream, Stream) is [_],
            () => $"the link's stream and durable consumer upstream; links: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}",
            Deadline);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, 50);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.CountAsync(Downstream, Stream) == 50,
            () => "the 50 messages in the downstream stream",
            Deadline);
        Assert.Equal(Enumerable.Range(0, 50), (await JetStreamTestKit.ReadAllAsync(Downstream, Stream, 50)).Order());
    }
}
