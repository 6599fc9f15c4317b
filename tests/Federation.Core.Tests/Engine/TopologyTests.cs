using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The topologies of the exchange federation guide with exact delivered counts, random topologies checked against an
/// independent path count, and a 1,000-broker fan-out tree.
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed class TopologyTests
{
    /// <summary>A directed federation edge: <paramref name="Downstream"/> federates from <paramref name="Upstream"/>.</summary>
    private sealed record Edge(int Upstream, int Downstream, int MaxHops);

    private sealed record RandomTopology(int Nodes, List<Edge> Edges, int Origin)
    {
        public override string ToString() => $"{Nodes} nodes, origin {Origin}, edges [{string.Join(" ", Edges.Select(e => $"{e.Upstream}->{e.Downstream}/{e.MaxHops}"))}]";
    }

    private static string Node(int i) => $"n{i}";

    /// <summary>
    /// Builds the topology on in-memory brokers: every node has exchange "fed" (fanout) and one local queue; links per edge.
    /// Waits until each node's binding count equals the count the hop rules allow, publishes once from every node in
    /// <paramref name="publishers"/>, and returns the number of copies each node's queue received.
    /// </summary>
    private static async Task<int[]> RunAsync(int nodes, IReadOnlyList<Edge> edges, IEnumerable<int> publishers, Func<int, bool>? hasQueue = null)
    {
        hasQueue ??= _ => true;
        await using var bed = new Testbed();
        foreach (var group in edges.GroupBy(e => e.Downstream))
        {
            await bed.StartEngineAsync(Node(group.Key), o =>
            {
                foreach (var edge in group)
                {
                    o.Upstream(Node(edge.Upstream), Node(edge.Upstream), u => u.MaxHops = edge.MaxHops);
                }

                o.Policy("fed", "^fed$", set: "all");
            });
        }

        var probes = new QueueProbe?[nodes];
        for (var i = 0; i < nodes; i++)
        {
            await Testbed.DeclareExchangeAsync(await bed.ConnectAsync(Node(i)), "fed", "fanout");
            if (hasQueue(i))
            {
                probes[i] = await bed.BindQueueAsync(Node(i), "fed", "");
            }
        }

        var expectedBindings = ExpectedBindingCounts(nodes, edges, hasQueue);
        await Testbed.Eventually(
            () => Enumerable.Range(0, nodes).All(i => bed.Broker(Node(i)).GetBindings("/", "fed").Count == expectedBindings[i]),
            () => "bindings: " + string.Join(" ", Enumerable.Range(0, nodes).Select(i => $"{Node(i)}={bed.Broker(Node(i)).GetBindings("/", "fed").Count}/{expectedBindings[i]}")),
            TimeSpan.FromSeconds(120));

        var published = publishers.ToList();
        foreach (var origin in published)
        {
            await Testbed.PublishAsync(await bed.ConnectAsync(Node(origin)), "fed", "", $"from-{origin}");
        }

        var expected = new int[nodes];
        foreach (var origin in published)
        {
            var paths = PathCounts(nodes, edges, origin);
            for (var i = 0; i < nodes; i++)
            {
                expected[i] += hasQueue(i) ? paths[i] : 0;
            }
        }

        await Testbed.Eventually(() => Enumerable.Range(0, nodes).All(i => (probes[i]?.Count ?? 0) >= expected[i]),
            () => "copies: " + string.Join(" ", Enumerable.Range(0, nodes).Select(i => $"{Node(i)}={probes[i]?.Count ?? 0}/{expected[i]}")),
            TimeSpan.FromSeconds(120));
        await QueueProbe.ExpectNoMoreAsync([.. probes.OfType<QueueProbe>().Select(p => (p, p.Count))]);

        return [.. probes.Select(p => p?.Count ?? 0)];
    }

    /// <summary>
    /// Copies per node for one publish at <paramref name="origin"/>, derived from the documented rules alone: one per simple
    /// path (no node visited twice) whose k-th edge (0-based) has max-hops greater than k; one local copy at the origin.
    /// </summary>
    private static int[] PathCounts(int nodes, IReadOnlyList<Edge> edges, int origin)
    {
        var counts = new int[nodes];
        var visited = new bool[nodes];
        void Walk(int at, int depth)
        {
            counts[at]++;
            visited[at] = true;
            foreach (var edge in edges.Where(e => e.Upstream == at && !visited[e.Downstream] && depth < e.MaxHops))
            {
                Walk(edge.Downstream, depth + 1);
            }

            visited[at] = false;
        }

        Walk(origin, 0);
        return counts;
    }

    /// <summary>
    /// Bindings on each node's exchange: its local queue binding plus every propagated binding, where a binding travels
    /// against the message flow with hops = max-hops on the first link, min(previous - 1, max-hops) afterwards, and never
    /// back into a node it came from.
    /// </summary>
    private static int[] ExpectedBindingCounts(int nodes, IReadOnlyList<Edge> edges, Func<int, bool> hasQueue)
    {
        var counts = new int[nodes];
        void Propagate(int at, List<int> trail, int hops)
        {
            counts[at]++;
            foreach (var edge in edges.Where(e => e.Downstream == at))
            {
                var next = trail.Count == 0 ? edge.MaxHops : Math.Min(hops - 1, edge.MaxHops);
                var nextTrail = new List<int>(trail) { at };
                if (nextTrail.Contains(edge.Upstream) || next <= 0)
                {
                    continue;
                }

                Propagate(edge.Upstream, nextTrail, next);
            }
        }

        for (var i = 0; i < nodes; i++)
        {
            if (hasQueue(i))
            {
                Propagate(i, [], 0);
            }
        }

        return counts;
    }

    [Fact]
    public async Task Pair_delivers_one_copy_downstream()
    {
        var copies = await RunAsync(2, [new Edge(0, 1, 1)], [0, 1]);
        Assert.Equal([1, 2], copies);
    }

    [Fact]
    public async Task Complete_graph_of_three_delivers_once_everywhere_with_max_hops_one()
    {
        var edges = new List<Edge>();
        for (var a = 0; a < 3; a++)
        {
            for (var b = 0; b < 3; b++)
            {
                if (a != b)
                {
                    edges.Add(new Edge(a, b, 1));
                }
            }
        }

        var copies = await RunAsync(3, edges, [0, 1, 2]);
        Assert.Equal([3, 3, 3], copies);
    }

    [Fact]
    public async Task Fan_out_tree_of_depth_three_delivers_one_copy_to_every_node()
    {
        // 1 root, 2 children, 4 grandchildren, 8 leaves: 15 nodes; links carry max-hops 3.
        var edges = Enumerable.Range(1, 14).Select(child => new Edge((child - 1) / 2, child, 3)).ToList();
        var copies = await RunAsync(15, edges, [0]);
        Assert.All(copies, c => Assert.Equal(1, c));
    }

    [Fact]
    public async Task Ring_of_six_with_max_hops_five_delivers_each_message_exactly_once_everywhere()
    {
        var edges = Enumerable.Range(0, 6).Select(i => new Edge(i, (i + 1) % 6, 5)).ToList();
        var copies = await RunAsync(6, edges, Enumerable.Range(0, 6));
        Assert.All(copies, c => Assert.Equal(6, c));
    }

    // Each case runs a whole federation of up to 50 in-memory brokers, hence few cases.
    [Property(MaxTest = 8)]
    public Property Random_topologies_deliver_exactly_what_the_hop_rules_allow_and_never_loop()
    {
        var topologies =
            from nodes in Gen.Choose(2, 50)
            from edgeCount in Gen.Choose(1, Math.Min(2 * nodes, 80))
            from raw in Gen.ArrayOf(
                from upstream in Gen.Choose(0, nodes - 1)
                from downstream in Gen.Choose(0, nodes - 1)
                from maxHops in Gen.Choose(1, 3)
                select new Edge(upstream, downstream, maxHops), edgeCount)
            from origin in Gen.Choose(0, nodes - 1)
            select new RandomTopology(nodes, [.. raw.Where(e => e.Upstream != e.Downstream).DistinctBy(e => (e.Upstream, e.Downstream))], origin);

        return Prop.ForAll(topologies.ToArbitrary(), t =>
        {
            var copies = RunAsync(t.Nodes, t.Edges, [t.Origin]).GetAwaiter().GetResult();
            var allowed = PathCounts(t.Nodes, t.Edges, t.Origin);

            // Exactly the path count: no loop (a loop would exceed it) and no copy lost.
            return copies.SequenceEqual(allowed);
        });
    }

    [Fact]
    public async Task A_fan_out_tree_of_one_thousand_brokers_delivers_exactly_one_copy_to_every_leaf()
    {
        // Root, 9 children, 90 grandchildren, 900 leaves: exactly 1,000 brokers; only leaves have queues.
        var edges = new List<Edge>();
        var level1 = Enumerable.Range(1, 9).ToList();
        var level2 = Enumerable.Range(10, 90).ToList();
        var leaves = Enumerable.Range(100, 900).ToList();
        edges.AddRange(level1.Select(n => new Edge(0, n, 3)));
        edges.AddRange(level2.Select((n, i) => new Edge(level1[i / 10], n, 3)));
        edges.AddRange(leaves.Select((n, i) => new Edge(level2[i / 10], n, 3)));

        var copies = await RunAsync(1000, edges, [0], hasQueue: n => n >= 100);
        Assert.All(leaves, leaf => Assert.Equal(1, copies[leaf]));
        Assert.Equal(900, copies.Sum());
    }
}
