using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Downstream bindings are grouped by (routing key, arguments): one upstream binding serves every downstream destination
/// of a group, so only one copy of a message crosses the link however many queues are bound.
/// </summary>
internal readonly record struct BindingGroupKey(string RoutingKey, IReadOnlyDictionary<string, object?>? Arguments)
{
    public bool Equals(BindingGroupKey other) =>
        RoutingKey == other.RoutingKey && HeaderValueComparer.Instance.Equals(Arguments, other.Arguments);

    public override int GetHashCode() =>
        HashCode.Combine(RoutingKey, HeaderValueComparer.Instance.GetHashCode(Arguments));
}
