using Federation.Core.Links;
using Federation.Testing.Brokers;
using Xunit.Abstractions;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A ring of three real nodes in which one link is RabbitMQ's own federation plugin and two are ours: A federates from B
/// with the plugin (upstream parameter + policy set by rabbitmqctl on A), B from C and C from A with our engine. Every
/// message published at B crosses the plugin's link first and then ours; every message published at C crosses ours and
/// then the plugin's: so each side reads the x-received-from trail the other wrote, for max-hops and for the cycle rule.
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class MixedRingScenarioTests(ThreeNodesFixture nodes, ITestOutputHelper output) : IAsyncLifetime
{
    private const int MessagesPerNode = 10;
    private static readonly string[] TrailFields = ["uri", "exchange", "redelivered", "cluster-name", "vhost"];

    private readonly ScenarioContext context = new();
    private PluginFederation? plugin;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (plugin is not null)
        {
            await plugin.DisposeAsync();
        }

        await context.DisposeAsync();
    }

    /// <summary>
    /// max-hops 1: each node gets its own messages and its direct upstream's. max-hops 10: a message could go round the
    /// ring more than once by hop count, so only the cycle rule (its origin's cluster name in x-received-from) stops it
    /// before it re-enters the node it came from: every node gets every message exactly once.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task Ring_with_the_plugins_link_and_ours_delivers_exact_counts(int maxHops)
    {
        var exchange = ScenarioContext.UniqueName("fed.mixed");
        RabbitMqNode[] ring = [nodes.A, nodes.B, nodes.C];
        foreach (var node in ring)
        {
            await context.DeclareExchangeAsync(node, exchange);
        }

        var queues = new Dictionary<RabbitMqNode, QueueProbe>();
        foreach (var node in ring)
        {
            queues[node] = await context.BindQueueAsync(node, exchange, "key");
        }

        plugin = await PluginFederation.StartAsync(nodes.A, nodes.B, exchange, maxHops);
        var engineB = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("c", nodes.C, u => u.MaxHops = maxHops)));
        var engineC = await context.StartEngineAsync(ScenarioContext.Options(nodes.C, exchange, ("a", nodes.A, u => u.MaxHops = maxHops)));
        await ScenarioContext.WaitForLinkAsync(engineB, exchange, LinkState.Running);
        await ScenarioContext.WaitForLinkAsync(engineC, exchange, LinkState.Running);

        // Bindings travel against the message flow, as far as messages could come back: one hop with max-hops 1; two with
        // max-hops 10 (the third would re-enter the node the binding started from). Both writers' x-bound-from agree.
        var names = new Dictionary<RabbitMqNode, string> { [nodes.A] = "A", [nodes.B] = "B", [nodes.C] = "C" };
        string[] expectedKeys = maxHops == 1 ? ["key"] : ["key", "key"];
        foreach (var node in ring)
        {
            await Management.WaitAsync(() => Management.FederationKeysAsync(node, exchange), keys => keys.SequenceEqual(expectedKeys), $"{node.ClusterName} should hold {expectedKeys.Length} federation binding(s)");
        }

        foreach (var node in ring)
        {
            var channel = await context.ChannelAsync(node);
            for (var i = 0; i < MessagesPerNode; i++)
            {
                await ScenarioContext.PublishAsync(channel, exchange, "key", $"{names[node]}-{i}");
            }
        }

        // Message flow: B -> A (plugin), C -> B (ours), A -> C (ours).
        var origins = maxHops == 1
            ? new Dictionary<RabbitMqNode, string[]> { [nodes.A] = ["A", "B"], [nodes.B] = ["B", "C"], [nodes.C] = ["C", "A"] }
            : new Dictionary<RabbitMqNode, string[]> { [nodes.A] = ["A", "B", "C"], [nodes.B] = ["A", "B", "C"], [nodes.C] = ["A", "B", "C"] };
        await Poll.UntilAsync(
            () => Task.FromResult(ring.All(n => queues[n].Count >= origins[n].Length * MessagesPerNode) ? queues : null),
            "every queue should get its messages: " + string.Join(" | ", ring.Select(n => $"{names[n]}: {queues[n].Count}")),
            TimeSpan.FromSeconds(60));
        await QueueProbe.ExpectNoMoreAsync([.. ring.Select(n => (queues[n], origins[n].Length * MessagesPerNode))]);
        foreach (var node in ring)
        {
            var expected = origins[node].SelectMany(o => Enumerable.Range(0, MessagesPerNode).Select(i => $"{o}-{i}")).Order(StringComparer.Ordinal);
            Assert.Equal(expected, queues[node].Bodies.Order(StringComparer.Ordinal));
            output.WriteLine($"max-hops {maxHops}: {names[node]} received {queues[node].Count} messages");
        }

        // The trails, newest first, as cluster names of the nodes each message left. At A the newest entry is the plugin's
        // and the older one ours (published at C); at C the newest is ours and the older one the plugin's (published at B).
        var clusters = ring.ToDictionary(n => n.ClusterName, n => names[n]);
        var trails = new Dictionary<RabbitMqNode, Dictionary<string, string>>
        {
            [nodes.A] = maxHops == 1 ? new() { ["A"] = "", ["B"] = "B" } : new() { ["A"] = "", ["B"] = "B", ["C"] = "B,C" },
            [nodes.B] = maxHops == 1 ? new() { ["B"] = "", ["C"] = "C" } : new() { ["B"] = "", ["C"] = "C", ["A"] = "C,A" },
            [nodes.C] = maxHops == 1 ? new() { ["C"] = "", ["A"] = "A" } : new() { ["C"] = "", ["A"] = "A", ["B"] = "A,B" },
        };
        foreach (var node in ring)
        {
            foreach (var (body, properties) in queues[node].Received)
            {
                var entries = Trail.Read(properties);
                var origin = body[..1];
                Assert.Equal(trails[node][origin], string.Join(",", entries.Select(e => clusters[e.Text("cluster-name")])));
                foreach (var entry in entries)
                {
                    // Both writers produce the plugin's table: same fields in the same order, with the same types.
                    Assert.Equal(TrailFields, entry.Fields);
                    var from = ring.Single(n => n.ClusterName == entry.Text("cluster-name"));
                    Assert.StartsWith($"amqp://127.0.0.1:{from.AmqpPort}", entry.Text("uri"), StringComparison.Ordinal);
                    Assert.DoesNotContain("guest", entry.Text("uri"), StringComparison.Ordinal);
                    Assert.Equal(exchange, entry.Text("exchange"));
                    Assert.Equal("/", entry.Text("vhost"));
                    Assert.False(entry.Flag("redelivered"));
                }
            }
        }
    }
}
