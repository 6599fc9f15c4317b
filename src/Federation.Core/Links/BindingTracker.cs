using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Reference-counts the bindings of one downstream exchange by <see cref="BindingGroupKey"/>.
/// A group becomes visible upstream when its first destination appears and disappears with its last one.
/// </summary>
internal sealed class BindingTracker
{
    private readonly Dictionary<BindingGroupKey, HashSet<(string Destination, BindingDestinationKind Kind)>> _groups = [];

    /// <summary>The groups with at least one destination.</summary>
    public IReadOnlyCollection<BindingGroupKey> Groups => _groups.Keys;

    /// <summary>Records a binding; returns true when it opened a new group (the upstream needs a bind).</summary>
    public bool Add(BindingSpec binding)
    {
        var key = new BindingGroupKey(binding.RoutingKey, binding.Arguments);
        if (!_groups.TryGetValue(key, out var destinations))
        {
            destinations = [];
            _groups.Add(key, destinations);
        }

        return destinations.Add((binding.Destination, binding.DestinationKind)) && destinations.Count == 1;
    }

    /// <summary>Forgets a binding; returns true when it closed its group (the upstream needs an unbind).</summary>
    public bool Remove(BindingSpec binding)
    {
        var key = new BindingGroupKey(binding.RoutingKey, binding.Arguments);
        if (!_groups.TryGetValue(key, out var destinations) || !destinations.Remove((binding.Destination, binding.DestinationKind)))
        {
            return false;
        }

        if (destinations.Count > 0)
        {
            return false;
        }

        _groups.Remove(key);
        return true;
    }

    /// <summary>Forgets everything.</summary>
    public void Clear() => _groups.Clear();

    /// <summary>Forgets every binding whose destination is <paramref name="destination"/> (it was deleted); returns the groups that closed.</summary>
    public List<BindingGroupKey> RemoveDestination(string destination, BindingDestinationKind kind)
    {
        var closed = new List<BindingGroupKey>();
        foreach (var (key, destinations) in _groups)
        {
            if (destinations.Remove((destination, kind)) && destinations.Count == 0)
            {
                closed.Add(key);
            }
        }

        foreach (var key in closed)
        {
            _groups.Remove(key);
        }

        return closed;
    }
}
