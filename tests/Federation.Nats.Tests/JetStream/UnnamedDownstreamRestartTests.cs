using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A downstream nats-server started without <c>-n</c> names itself anew (its <c>server_id</c>) at every start. Neither
/// Federation:ClusterName nor <c>cluster-name</c> is set here, so the cluster name comes from the connection: it must
/// stay the same across the restart, or every link starts anew with a new durable consumer upstream (deliver policy
/// new) and what the old one buffered during the outage never arrives.
/// </summary>
public sealed class UnnamedDownstreamRestartTests(ITestOutputHelper output) : JetStreamServerPairTests("js-up", downstreamName: null)
{
    private const string Exchange = "orders";
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Messages_published_while_the_downstream_restarts_arrive_and_the_link_keeps_its_id()
    {
        var engine = StartEngine();
        Engines.Add(engine);
        await JetStreamTestKit.EventuallyAsync(
            async () => engine.GetLinks() is [{ State: LinkState.Running }] && await JetStreamTestKit.ConsumersAsync(Upstream, Stream) is [_],
            () => $"the link running with its durable consumer upstream; links: {Describe(engine)}",
            Deadline);
        var link = engine.GetLinks()[0].Id;

        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, 10);
        long count = 0;
        await JetStreamTestKit.EventuallyAsync(
            async () => (count = await JetStreamTestKit.CountAsync(Downstream, Stream)) == 10,
            () => $"the first 10 messages downstream; have {count}; links: {Describe(engine)}",
            Deadline);

        await Downstream.KillAsync();
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 10, 20);
        await Downstream.StartAsync();
        output.WriteLine("downstream restarted");

        await JetStreamTestKit.EventuallyAsync(
            async () => (count = await JetStreamTestKit.CountAsync(Downstream, Stream)) == 30 && engine.GetLinks() is [{ State: LinkState.Running }],
            () => $"all 30 messages downstream; have {count}; links: {Describe(engine)}",
            Deadline);
        Assert.Equal(link, Assert.Single(engine.GetLinks()).Id);
        Assert.Single(await JetStreamTestKit.ConsumersAsync(Upstream, Stream));
        Assert.Equal(Enumerable.Range(0, 30), (await JetStreamTestKit.ReadAllAsync(Downstream, Stream, 30)).Order());
        Assert.Equal($"127.0.0.1:{Port(Downstream.Port)}", engine.ClusterName); // the endpoint: the server names neither itself nor a cluster
    }

    private FederationEngine StartEngine()
    {
        var options = new FederationOptions
        {
            Downstream =
            {
                // No cluster-name: the name the connection advertises is the point.
                Uri = $"{Downstream.Url}?monitor-port={Port(Downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{Upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        _ = engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Id} {l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
