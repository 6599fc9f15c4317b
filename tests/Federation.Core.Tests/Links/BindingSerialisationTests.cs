using Federation.Core.Links;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Links;

/// <summary>Binding changes are applied in serial order and grouped by (routing key, arguments).</summary>
public sealed class BindingSerialisationTests
{
    private static BindingSpec Binding(string key, string destination = "q") => new("x", destination, BindingDestinationKind.Queue, key);

    [Fact]
    public void Out_of_order_events_apply_by_serial_like_the_plugins_serialisation_test()
    {
        // The plugin's remove[1,3]@4, add1@5, add1@1, add2@2, add3@3. One of our changes carries one binding, so the
        // two-binding removal takes serials 4 and 5 and the later add becomes 6; the arrival order is the plugin's.
        var sequencer = new TopologySequencer();
        sequencer.Reset(0);
        var tracker = new BindingTracker();
        TopologyChange[] arrivals =
        [
            new(4, TopologyChangeKind.BindingRemoved, Binding: Binding("1")),
            new(5, TopologyChangeKind.BindingRemoved, Binding: Binding("3")),
            new(6, TopologyChangeKind.BindingAdded, Binding: Binding("1")),
            new(1, TopologyChangeKind.BindingAdded, Binding: Binding("1")),
            new(2, TopologyChangeKind.BindingAdded, Binding: Binding("2")),
            new(3, TopologyChangeKind.BindingAdded, Binding: Binding("3")),
        ];
        foreach (var change in arrivals)
        {
            foreach (var ready in sequencer.Accept(change))
            {
                if (ready.Kind == TopologyChangeKind.BindingAdded)
                {
                    tracker.Add(ready.Binding!);
                }
                else
                {
                    tracker.Remove(ready.Binding!);
                }
            }
        }

        Assert.Equal(["1", "2"], tracker.Groups.Select(g => g.RoutingKey).Order(StringComparer.Ordinal));
        Assert.Equal(0, sequencer.PendingCount);
    }

    [Fact]
    public void Changes_covered_by_the_snapshot_are_discarded_and_gaps_wait()
    {
        var sequencer = new TopologySequencer();
        sequencer.Reset(10);
        Assert.Empty(sequencer.Accept(new TopologyChange(9, TopologyChangeKind.BindingAdded, Binding: Binding("old"))));
        Assert.Empty(sequencer.Accept(new TopologyChange(12, TopologyChangeKind.BindingAdded, Binding: Binding("b"))));
        Assert.Equal(1, sequencer.PendingCount);
        var ready = sequencer.Accept(new TopologyChange(11, TopologyChangeKind.BindingAdded, Binding: Binding("a")));
        Assert.Equal([11L, 12L], ready.Select(c => c.Serial));
    }

    [Fact]
    public void Groups_open_on_the_first_destination_and_close_on_the_last()
    {
        var tracker = new BindingTracker();
        Assert.True(tracker.Add(Binding("k", "q1")));
        Assert.False(tracker.Add(Binding("k", "q2")));
        Assert.False(tracker.Add(Binding("k", "q2")));
        Assert.False(tracker.Remove(Binding("k", "q1")));
        Assert.True(tracker.Remove(Binding("k", "q2")));
        Assert.Empty(tracker.Groups);

        // Same key, different arguments: distinct groups. Equal arguments in different instances: one group.
        Assert.True(tracker.Add(new BindingSpec("x", "q1", BindingDestinationKind.Queue, "k", new Dictionary<string, object?> { ["a"] = 1 })));
        Assert.False(tracker.Add(new BindingSpec("x", "q2", BindingDestinationKind.Queue, "k", new Dictionary<string, object?> { ["a"] = 1L })));
        Assert.True(tracker.Add(new BindingSpec("x", "q3", BindingDestinationKind.Queue, "k", new Dictionary<string, object?> { ["a"] = 2 })));
        Assert.Equal(2, tracker.Groups.Count);
    }
}
