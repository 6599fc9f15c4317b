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
}
