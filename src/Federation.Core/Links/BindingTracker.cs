using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Reference-counts the bindings of one downstream exchange by <see cref="BindingGroupKey"/>.
/// A group becomes visible upstream when its first destination appears and disappears with its last one.
/// </summary>
/// <remarks>
/// Groups compare by value (<see cref="HeaderValueComparer"/>: a short equals a long, a table's order does not count), but
/// the broker does not: RabbitMQ removes a binding only when the unbind carries exactly the bound arguments, types and
/// field order included. The same downstream binding reads differently from the management API's snapshot (JSON: integers
/// as longs, fields in the API's order) and from the event exchange (the broker's own types and order), so each group
/// keeps the form it was opened with, and every command about it, the closing unbind too, is written from that form.
/// </remarks>
internal sealed class BindingTracker
{
    private Dictionary<BindingGroupKey, Group> _groups = [];

    /// <summary>The groups with at least one destination, each in the form it was opened with (and bound upstream).</summary>
    public IReadOnlyCollection<BindingGroupKey> Groups => _groups.Keys;

    /// <summary>Records a binding; returns true when it opened a new group (the upstream needs a bind).</summary>
    public bool Add(BindingSpec binding)
    {
        var key = new BindingGroupKey(binding.RoutingKey, binding.Arguments);
        if (!_groups.TryGetValue(key, out var group))
        {
            group = new Group(key);
            _groups.Add(key, group);
        }

        return group.Destinations.Add((binding.Destination, binding.DestinationKind)) && group.Destinations.Count == 1;
    }

    /// <summary>Forgets a binding; returns true when it closed its group (the upstream needs an unbind).</summary>
    public bool Remove(BindingSpec binding) => Remove(binding, out _);

    /// <summary>
    /// Forgets a binding; returns true when it closed its group (the upstream needs an unbind), with the group in the form
    /// it was opened with in <paramref name="closed"/>, which may differ from <paramref name="binding"/>'s.
    /// </summary>
    public bool Remove(BindingSpec binding, out BindingGroupKey closed)
    {
        closed = default;
        var key = new BindingGroupKey(binding.RoutingKey, binding.Arguments);
        if (!_groups.TryGetValue(key, out var group) || !group.Destinations.Remove((binding.Destination, binding.DestinationKind)))
        {
            return false;
        }

        if (group.Destinations.Count > 0)
        {
            return false;
        }

        _groups.Remove(key);
        closed = group.Key;
        return true;
    }

    /// <summary>
    /// Replaces every binding (a resync from a snapshot) and returns the groups that opened and those that closed. A group
    /// present before and after keeps the form it was opened with, since that is the form bound upstream.
    /// </summary>
    public (List<BindingGroupKey> Opened, List<BindingGroupKey> Closed) ReplaceAll(IEnumerable<BindingSpec> bindings)
    {
        var before = _groups;
        var after = new Dictionary<BindingGroupKey, Group>();
        foreach (var binding in bindings)
        {
            var key = new BindingGroupKey(binding.RoutingKey, binding.Arguments);
            if (!after.TryGetValue(key, out var group))
            {
                group = new Group(before.TryGetValue(key, out var kept) ? kept.Key : key);
                after.Add(group.Key, group);
            }

            group.Destinations.Add((binding.Destination, binding.DestinationKind));
        }

        _groups = after;
        return ([.. after.Keys.Where(k => !before.ContainsKey(k))], [.. before.Keys.Where(k => !after.ContainsKey(k))]);
    }

    /// <summary>Forgets every binding whose destination is <paramref name="destination"/> (it was deleted); returns the groups that closed.</summary>
    public List<BindingGroupKey> RemoveDestination(string destination, BindingDestinationKind kind)
    {
        var closed = new List<BindingGroupKey>();
        foreach (var group in _groups.Values)
        {
            if (group.Destinations.Remove((destination, kind)) && group.Destinations.Count == 0)
            {
                closed.Add(group.Key);
            }
        }

        foreach (var key in closed)
        {
            _groups.Remove(key);
        }

        return closed;
    }

    /// <summary>One group: the form it was opened with, and its destinations.</summary>
    private sealed class Group(BindingGroupKey key)
    {
        public BindingGroupKey Key { get; } = key;

        public HashSet<(string Destination, BindingDestinationKind Kind)> Destinations { get; } = [];
    }
}
