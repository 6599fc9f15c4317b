using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The bindings of one downstream exchange and the feeds of the links that mirror them upstream. Updating the tracker and
/// queueing the resulting commands happen under one lock, and so does a link's replay snapshot, so a link never misses a
/// change. It knows the links only by their <see cref="BindingFeed"/>: commands flow one way, from here to the links.
/// </summary>
internal sealed class ExchangeBindings
{
    private readonly Lock _lock = new();
    private readonly BindingTracker _tracker = new();
    private readonly List<BindingFeed> _feeds = [];

    /// <summary>Records a downstream binding and tells the links when a group opened.</summary>
    public void Add(BindingSpec binding)
    {
        lock (_lock)
        {
            if (_tracker.Add(binding))
            {
                Broadcast(new BindingCommand(true, new BindingGroupKey(binding.RoutingKey, binding.Arguments)));
            }
        }
    }

    /// <summary>Forgets a downstream binding and tells the links when a group closed.</summary>
    public void Remove(BindingSpec binding)
    {
        lock (_lock)
        {
            // The unbind is written from the form the group was bound with, not from this removal's (see BindingTracker).
            if (_tracker.Remove(binding, out var closed))
            {
                Broadcast(new BindingCommand(false, closed));
            }
        }
    }

    /// <summary>Forgets the bindings to a deleted destination.</summary>
    public void RemoveDestination(string destination, BindingDestinationKind kind)
    {
        lock (_lock)
        {
            foreach (var group in _tracker.RemoveDestination(destination, kind))
            {
                Broadcast(new BindingCommand(false, group));
            }
        }
    }

    /// <summary>Replaces every binding (a resync from a snapshot) and tells the links only about groups that changed.</summary>
    public void ReplaceAll(IEnumerable<BindingSpec> bindings)
    {
        lock (_lock)
        {
            var (opened, closed) = _tracker.ReplaceAll(bindings);

            // Binds before unbinds: a message that both an old and a new group match keeps a route upstream throughout
            // (an upstream queue takes one copy however many of its bindings match).
            foreach (var added in opened)
            {
                Broadcast(new BindingCommand(true, added));
            }

            foreach (var gone in closed)
            {
                Broadcast(new BindingCommand(false, gone));
            }
        }
    }

    /// <summary>Attaches a link's feed as it starts a new generation: drops its queued commands and returns every group to replay.</summary>
    public List<BindingGroupKey> AttachForReplay(BindingFeed feed)
    {
        lock (_lock)
        {
            feed.Clear();
            if (!_feeds.Contains(feed))
            {
                _feeds.Add(feed);
            }

            return [.. _tracker.Groups];
        }
    }

    /// <summary>
    /// Every group there is now, leaving the feeds alone: a change made before this call and still queued in a feed is
    /// mirrored after whatever the caller does with the snapshot, which is still right, since it is applied in order.
    /// </summary>
    public List<BindingGroupKey> Snapshot()
    {
        lock (_lock)
        {
            return [.. _tracker.Groups];
        }
    }

    /// <summary>Stops feeding a link.</summary>
    public void Detach(BindingFeed feed)
    {
        lock (_lock)
        {
            _feeds.Remove(feed);
        }
    }

    private void Broadcast(BindingCommand command)
    {
        foreach (var feed in _feeds)
        {
            feed.Post(command);
        }
    }
}
