namespace Federation.Core.Transport;

/// <summary>What a binding routes to.</summary>
public enum BindingDestinationKind
{
    /// <summary>The destination is a queue.</summary>
    Queue,
    /// <summary>The destination is an exchange (exchange-to-exchange binding).</summary>
    Exchange,
}

/// <summary>A binding from a source exchange to a queue or exchange.</summary>
/// <param name="Source">Source exchange name.</param>
/// <param name="Destination">Destination queue or exchange name.</param>
/// <param name="DestinationKind">Whether <paramref name="Destination"/> is a queue or an exchange.</param>
/// <param name="RoutingKey">Binding key (a topic pattern for topic exchanges).</param>
/// <param name="Arguments">Binding arguments (headers-exchange match arguments, <c>x-bound-from</c>, ...), or <see langword="null"/>.</param>
public sealed record BindingSpec(
    string Source,
    string Destination,
    BindingDestinationKind DestinationKind,
    string RoutingKey,
    IReadOnlyDictionary<string, object?>? Arguments = null)
{
    /// <summary>Equality including a deep comparison of <see cref="Arguments"/>.</summary>
    public bool Equals(BindingSpec? other) =>
        other is not null
        && Source == other.Source
        && Destination == other.Destination
        && DestinationKind == other.DestinationKind
        && RoutingKey == other.RoutingKey
        && HeaderValueComparer.Instance.Equals(Arguments, other.Arguments);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(Source, Destination, DestinationKind, RoutingKey, HeaderValueComparer.Instance.GetHashCode(Arguments));
}
