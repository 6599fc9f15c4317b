using System.Threading.Channels;

namespace Federation.Core.Links;

/// <summary>
/// The binding changes one link has yet to mirror upstream. <see cref="ExchangeBindings"/> writes them and the link's
/// current session reads them, so the bindings reach a link through commands and never hold the link itself.
/// </summary>
internal sealed class BindingFeed
{
    private readonly Channel<BindingCommand> _commands = Channel.CreateUnbounded<BindingCommand>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>The commands in the order the bindings changed; one reader at a time (the link's session).</summary>
    public ChannelReader<BindingCommand> Reader => _commands.Reader;

    /// <summary>Queues a change for the link.</summary>
    public void Post(BindingCommand command) => _commands.Writer.TryWrite(command);

    /// <summary>Drops every queued change: a replay of all the groups is about to replace them.</summary>
    public void Clear()
    {
        while (_commands.Reader.TryRead(out _))
        {
        }
    }
}
