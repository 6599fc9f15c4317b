using Federation.Core.Links;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Links;

/// <summary>How downstream bindings become the commands a link mirrors upstream.</summary>
public sealed class ExchangeBindingsTests
{
    private static BindingSpec Binding(string key, string destination = "q") => new("orders", destination, BindingDestinationKind.Queue, key);

    private static List<BindingCommand> Drain(BindingFeed feed)
    {
        var commands = new List<BindingCommand>();
        while (feed.Reader.TryRead(out var command))
        {
            commands.Add(command);
        }

        return commands;
    }

    [Fact]
    public void A_group_opens_with_its_first_destination_and_closes_with_its_last()
    {
        var bindings = new ExchangeBindings();
        var feed = new BindingFeed();
        Assert.Empty(bindings.AttachForReplay(feed));

        bindings.Add(Binding("eu.*", "q1"));
        bindings.Add(Binding("eu.*", "q2"));
        bindings.Remove(Binding("eu.*", "q1"));
        Assert.Equal([new BindingCommand(true, new BindingGroupKey("eu.*", null))], Drain(feed));

        bindings.Remove(Binding("eu.*", "q2"));
        Assert.Equal([new BindingCommand(false, new BindingGroupKey("eu.*", null))], Drain(feed));
    }

    [Fact]
    public void A_snapshot_binds_what_is_new_before_it_unbinds_what_is_gone()
    {
        // A message that both the old and the new group match must keep a route upstream throughout the resync.
        var bindings = new ExchangeBindings();
        var feed = new BindingFeed();
        bindings.AttachForReplay(feed);
        bindings.Add(Binding("eu.*"));
        bindings.Add(Binding("us.*"));
        Drain(feed);

        bindings.ReplaceAll([Binding("#"), Binding("us.*", "other")]);

        Assert.Equal(
            [new BindingCommand(true, new BindingGroupKey("#", null)), new BindingCommand(false, new BindingGroupKey("eu.*", null))],
            Drain(feed));
    }

    [Fact]
    public void A_group_is_unbound_in_the_form_it_was_bound_with_whatever_form_its_removal_arrives_in()
    {
        // The management API's snapshot gives x-bound-from's hops as a long, fields in its own order; the event exchange
        // gives the broker's short. RabbitMQ unbinds only on exactly the bound arguments, so the unbind must be the bind's.
        var bindings = new ExchangeBindings();
        var feed = new BindingFeed();
        bindings.AttachForReplay(feed);
        var fromSnapshot = BoundFrom(new Dictionary<string, object?> { ["cluster-name"] = "c", ["exchange"] = "/:x B", ["hops"] = 2L, ["vhost"] = "/" });
        var fromEvent = BoundFrom(new Dictionary<string, object?> { ["cluster-name"] = "c", ["vhost"] = "/", ["exchange"] = "/:x B", ["hops"] = (short)2 });

        bindings.ReplaceAll([new BindingSpec("orders", "federation: x -> c B", BindingDestinationKind.Exchange, "k", fromSnapshot)]);
        bindings.Remove(new BindingSpec("orders", "federation: x -> c B", BindingDestinationKind.Exchange, "k", fromEvent));
        var commands = Drain(feed);

        Assert.Equal(2, commands.Count);
        Assert.False(commands[1].Add);
        Assert.Same(fromSnapshot, commands[1].Group.Arguments);

        // And a resync that reads an open group in another form keeps the form it was bound with.
        bindings.Add(new BindingSpec("orders", "federation: x -> c B", BindingDestinationKind.Exchange, "k", fromEvent));
        bindings.ReplaceAll([new BindingSpec("orders", "federation: x -> c B", BindingDestinationKind.Exchange, "k", fromSnapshot)]);
        bindings.Remove(new BindingSpec("orders", "federation: x -> c B", BindingDestinationKind.Exchange, "k", fromSnapshot));
        commands = Drain(feed);

        Assert.Equal(2, commands.Count);
        Assert.Same(fromEvent, commands[1].Group.Arguments);
    }

    private static Dictionary<string, object?> BoundFrom(Dictionary<string, object?> entry) =>
        new(StringComparer.Ordinal) { ["x-bound-from"] = new List<object?> { entry } };
}
