using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The bindings of one downstream exchange and the links that mirror them upstream. Updating the tracker and queueing the
/// resulting commands happen under one lock, and so does a link's replay snapshot, so a link never misses a change.
/// </summary>
internal sealed class ExchangeBindings
{
    private readonly Lock _lock = new();
    private readonly BindingTracker _tracker = new();
    private readonly List<ExchangeLink> _links = [];

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
            if (_tracker.Remove(binding))
            {
                Broadcast(new BindingCommand(false, new BindingGroupKey(binding.RoutingKey, binding.Arguments)));
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
            var before = new HashSet<BindingGroupKey>(_tracker.Groups);
            _tracker.Clear();
            foreach (var binding in bindings)
            {
                _tracker.Add(binding);
            }

            var after = new HashSet<BindingGroupKey>(_tracker.Groups);
            foreach (var gone in before.Where(g => !after.Contains(g)))
            {
                Broadcast(new BindingCommand(false, gone));
            }

            foreach (var added in after.Where(g => !before.Contains(g)))
            {
                Broadcast(new BindingCommand(true, added));
            }
        }
    }

    /// <summary>Attaches a link starting a new generation: drops its queued commands and returns every group to replay.</summary>
    public List<BindingGroupKey> AttachForReplay(ExchangeLink link)
    {
        lock (_lock)
        {
            link.ClearBindingCommands();
            if (!_links.Contains(link))
            {
                _links.Add(link);
            }

            return [.. _tracker.Groups];
        }
    }

    /// <summary>Stops feeding a link.</summary>
    public void Detach(ExchangeLink link)
    {
        lock (_lock)
        {
            _links.Remove(link);
        }
    }

    private void Broadcast(BindingCommand command)
    {
        foreach (var link in _links)
        {
            link.EnqueueBindingCommand(command);
        }
    }
}
