using Federation.Core.Hops;
using Xunit;

namespace Federation.Core.Tests.Hops;

/// <summary>The plugin's legacy <c>binding_propagation</c> case, replayed on the hop rules alone.</summary>
public class BindingPropagationTests
{
    private sealed record Link(string Upstream, string Downstream, int MaxHops);

    private sealed record Binding(string RoutingKey, IReadOnlyDictionary<string, object?>? Arguments);

    [Fact]
    public void Bindings_reach_as_far_as_messages_could_travel_back()
    {
        // Message flow: Dylan -> Bugs (1), Bugs -> Jessica (2), Jessica -> Dylan (1), Dylan -> Jessica (1).
        Link[] links = [new("dylan", "bugs", 1), new("bugs", "jessica", 2), new("jessica", "dylan", 1), new("dylan", "jessica", 1)];

        var bindings = Propagate(links, ["dylan", "bugs", "jessica"]);

        Assert.Equal(["bugs", "dylan", "jessica", "jessica"], KeysOn(bindings, "dylan"));
        Assert.Equal(["bugs", "jessica"], KeysOn(bindings, "bugs"));
        Assert.Equal(["dylan", "jessica"], KeysOn(bindings, "jessica"));
    }

    // Each cluster binds a local queue with its own name as routing key; every binding then travels against the
    // message flow, one link at a time, as long as the hop rules allow it.
    private static Dictionary<string, List<Binding>> Propagate(Link[] links, string[] clusters)
    {
        var bindings = clusters.ToDictionary(cluster => cluster, cluster => new List<Binding> { new(cluster, null) });
        var pending = new Queue<(string Cluster, Binding Binding)>(clusters.Select(cluster => (cluster, bindings[cluster][0])));
        while (pending.TryDequeue(out var item))
        {
            foreach (var link in links.Where(link => link.Downstream == item.Cluster))
            {
                var hops = HopRules.BindingHops(item.Binding.Arguments, link.MaxHops, link.Upstream, "/");
                if (hops == 0)
                {
                    continue;
                }

                var propagated = new Binding(item.Binding.RoutingKey, HopRules.WithBoundFrom(item.Binding.Arguments, item.Cluster, "/", "/:x A", hops));
                bindings[link.Upstream].Add(propagated);
                pending.Enqueue((link.Upstream, propagated));
            }
        }

        return bindings;
    }

    private static string[] KeysOn(Dictionary<string, List<Binding>> bindings, string cluster) =>
        [.. bindings[cluster].Select(binding => binding.RoutingKey).Order(StringComparer.Ordinal)];
}
