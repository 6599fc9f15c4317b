using Federation.Core.Links;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>exchange_SUITE no_loop and max_hops (ring), on real nodes, each node running its own engine.</summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class LoopScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task No_loop_two_nodes_federating_each_other_deliver_each_message_once()
    {
        var exchange = ScenarioContext.UniqueName("fed.noloop");
        RabbitMqNode[] pair = [nodes.A, nodes.B];
        foreach (var node in pair)
        {
            await context.DeclareExchangeAsync(node, exchange);
        }

        // A federates from B and B from A, max-hops 1 (the default).
        var engineA = await context.StartEngineAsync(ScenarioContext.Options(nodes.A, exchange, ("b", nodes.B, u => u.MaxHops = 1)));
        var engineB = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, u => u.MaxHops = 1)));
        var queueA = await context.BindQueueAsync(nodes.A, exchange, "key");
        var queueB = await context.BindQueueAsync(nodes.B, exchange, "key");
        await ScenarioContext.WaitForLinkAsync(engineA, exchange, LinkState.Running);
        await ScenarioContext.WaitForLinkAsync(engineB, exchange, LinkState.Running);

        // Each side holds exactly one federation binding: the other's local one (hops 1 stops the echo).
        foreach (var node in pair)
        {
            await Management.WaitAsync(() => Management.FederationKeysAsync(node, exchange), keys => keys.SequenceEqual(["key"]), $"{node.ClusterName} should hold one federation binding");
        }

        await ScenarioContext.PublishAsync(await context.ChannelAsync(nodes.A), exchange, "key", "Hello from A");
        await ScenarioContext.PublishAsync(await context.ChannelAsync(nodes.B), exchange, "key", "Hello from B");
        await Poll.UntilAsync(() => Task.FromResult(queueA.Count >= 2 && queueB.Count >= 2 ? queueA : null), $"both queues should get both messages: A [{string.Join(",", queueA.Bodies)}] B [{string.Join(",", queueB.Bodies)}]");
        await QueueProbe.ExpectNoMoreAsync([(queueA, 2), (queueB, 2)]);
        Assert.Equal(["Hello from A", "Hello from B"], queueA.Bodies.Order(StringComparer.Ordinal));
        Assert.Equal(["Hello from A", "Hello from B"], queueB.Bodies.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Ring_of_three_with_max_hops_two_delivers_each_message_exactly_once_everywhere()
    {
        var exchange = ScenarioContext.UniqueName("fed.ring");
        RabbitMqNode[] ring = [nodes.A, nodes.B, nodes.C];
        foreach (var node in ring)
        {
            await context.DeclareExchangeAsync(node, exchange);
        }

        // A <- B, B <- C, C <- A: each node federates from the next, max-hops 2.
        var engines = new List<Federation.Core.FederationEngine>();
        for (var i = 0; i < 3; i++)
        {
            var upstream = ring[(i + 1) % 3];
            engines.Add(await context.StartEngineAsync(ScenarioContext.Options(ring[i], exchange, ("next", upstream, u => u.MaxHops = 2))));
        }

        var queues = new List<QueueProbe>();
        foreach (var node in ring)
        {
            queues.Add(await context.BindQueueAsync(node, exchange, "key"));
        }

        foreach (var engine in engines)
        {
            await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        }

        // Each exchange carries the local binding plus two federation bindings: the direct downstream's, and the one it forwarded.
        foreach (var node in ring)
        {
            await Management.WaitAsync(() => Management.FederationKeysAsync(node, exchange), keys => keys.SequenceEqual(["key", "key"]), $"{node.ClusterName} should hold two federation bindings");
        }

        string[] names = ["A", "B", "C"];
        for (var i = 0; i < 3; i++)
        {
            await ScenarioContext.PublishAsync(await context.ChannelAsync(ring[i]), exchange, "key", names[i]);
        }

        await Poll.UntilAsync(() => Task.FromResult(queues.All(q => q.Count >= 3) ? queues : null), "every queue should get three messages: " + string.Join(" | ", queues.Select(q => string.Join(",", q.Bodies))));
        await QueueProbe.ExpectNoMoreAsync([.. queues.Select(q => (q, 3))]);
        Assert.All(queues, q => Assert.Equal(names, q.Bodies.Order(StringComparer.Ordinal)));
    }
}
