using Federation.Core.Links;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>exchange_SUITE multiple_upstreams and multiple_downstreams, on real nodes.</summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class MultipleUpstreamsScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private const int MessagesPerNode = 5;

    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task One_downstream_exchange_federated_from_two_upstream_nodes_gets_each_message_once()
    {
        var exchange = ScenarioContext.UniqueName("fed.twoup");
        await context.DeclareExchangeAsync(nodes.C, exchange);
        context.DeleteLater(nodes.A, exchange);
        context.DeleteLater(nodes.B, exchange);
        var queue = await context.BindQueueAsync(nodes.C, exchange, "key");
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.C, exchange, ("a", nodes.A, null), ("b", nodes.B, null)));
        await Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks() is [{ State: LinkState.Running }, { State: LinkState.Running }] links ? links : null),
            "two running links, one per upstream");

        // Each upstream got the mirrored exchange and exactly one binding, to its own upstream queue for C.
        foreach (var upstream in new[] { nodes.A, nodes.B })
        {
            await Management.WaitAsync(() => Management.FederationKeysAsync(upstream, exchange), keys => keys.SequenceEqual(["key"]), $"{upstream.ClusterName} should hold C's binding");
        }

        var expected = new List<string>();
        foreach (var (node, name) in new[] { (nodes.A, "A"), (nodes.B, "B") })
        {
            var channel = await context.ChannelAsync(node);
            for (var i = 0; i < MessagesPerNode; i++)
            {
                await ScenarioContext.PublishAsync(channel, exchange, "key", $"{name}-{i}");
                expected.Add($"{name}-{i}");
            }
        }

        await queue.ExpectAsync([.. expected]);
        foreach (var (body, properties) in queue.Received)
        {
            var hop = Assert.Single(Trail.Read(properties));
            Assert.Equal(body.StartsWith('A') ? nodes.A.ClusterName : nodes.B.ClusterName, hop.Text("cluster-name"));
        }
    }

    [Fact]
    public async Task Two_downstream_nodes_federated_from_one_upstream_each_get_every_message_once()
    {
        var exchange = ScenarioContext.UniqueName("fed.twodown");
        await context.DeclareExchangeAsync(nodes.A, exchange);
        await context.DeclareExchangeAsync(nodes.B, exchange);
        await context.DeclareExchangeAsync(nodes.C, exchange);

        // B has two queues on the same key: one upstream binding for both (the plugin's refcount), and both get a copy.
        var b1 = await context.BindQueueAsync(nodes.B, exchange, "key");
        var b2 = await context.BindQueueAsync(nodes.B, exchange, "key");
        var c = await context.BindQueueAsync(nodes.C, exchange, "key");
        var engineB = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, null)));
        var engineC = await context.StartEngineAsync(ScenarioContext.Options(nodes.C, exchange, ("a", nodes.A, null)));
        await ScenarioContext.WaitForLinkAsync(engineB, exchange, LinkState.Running);
        await ScenarioContext.WaitForLinkAsync(engineC, exchange, LinkState.Running);

        // A holds one binding per downstream, each to that downstream's own upstream queue.
        var bindings = await Management.WaitAsync(
            () => Management.SourceBindingsAsync(nodes.A, exchange),
            list => list.Count(b => b.Destination.StartsWith("federation: ", StringComparison.Ordinal)) == 2,
            "A should hold one binding for B and one for C");
        Assert.Single(bindings, b => b.Destination.StartsWith($"federation: {exchange} -> {nodes.B.ClusterName}", StringComparison.Ordinal));
        Assert.Single(bindings, b => b.Destination.StartsWith($"federation: {exchange} -> {nodes.C.ClusterName}", StringComparison.Ordinal));

        var publisher = await context.ChannelAsync(nodes.A);
        var expected = Enumerable.Range(0, MessagesPerNode).Select(i => $"A-{i}").ToArray();
        foreach (var body in expected)
        {
            await ScenarioContext.PublishAsync(publisher, exchange, "key", body);
        }

        await Poll.UntilAsync(() => Task.FromResult(b1.Count >= MessagesPerNode && b2.Count >= MessagesPerNode && c.Count >= MessagesPerNode ? c : null), "every downstream queue should get every message");
        await QueueProbe.ExpectNoMoreAsync([(b1, MessagesPerNode), (b2, MessagesPerNode), (c, MessagesPerNode)]);
        foreach (var probe in new[] { b1, b2, c })
        {
            Assert.Equal(expected, probe.Bodies.Order(StringComparer.Ordinal));
        }
    }
}
