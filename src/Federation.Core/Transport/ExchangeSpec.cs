namespace Federation.Core.Transport;

/// <summary>Describes an exchange (AMQP) or subject namespace (NATS) as declared on a broker.</summary>
/// <param name="Name">Exchange name. The empty string is the default exchange.</param>
/// <param name="Type">Exchange type: <c>direct</c>, <c>fanout</c>, <c>topic</c>, <c>headers</c> or a plugin type such as <c>x-federation-upstream</c>.</param>
/// <param name="Durable">Survives a broker restart.</param>
/// <param name="AutoDelete">Deleted when its last binding is removed.</param>
/// <param name="Internal">Cannot be published to directly by clients; internal exchanges are never federated.</param>
/// <param name="Arguments">Declaration arguments, or <see langword="null"/> for none.</param>
public sealed record ExchangeSpec(
    string Name,
    string Type,
    bool Durable = true,
    bool AutoDelete = false,
    bool Internal = false,
    IReadOnlyDictionary<string, object?>? Arguments = null)
{
    /// <summary>Equality including a deep comparison of <see cref="Arguments"/>.</summary>
    public bool Equals(ExchangeSpec? other) =>
        other is not null
        && Name == other.Name
        && Type == other.Type
        && Durable == other.Durable
        && AutoDelete == other.AutoDelete
        && Internal == other.Internal
        && HeaderValueComparer.Instance.Equals(Arguments, other.Arguments);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Type, Durable, AutoDelete, Internal, HeaderValueComparer.Instance.GetHashCode(Arguments));

    /// <summary>The well-known exchange type names.</summary>
    public static class Types
    {
        /// <summary>Routes on exact routing-key equality.</summary>
        public const string Direct = "direct";
        /// <summary>Routes to every binding.</summary>
        public const string Fanout = "fanout";
        /// <summary>Routes on dotted routing-key patterns with <c>*</c> and <c>#</c>.</summary>
        public const string Topic = "topic";
        /// <summary>Routes on message headers with <c>x-match</c> <c>all</c>, <c>any</c>, <c>all-with-x</c> or <c>any-with-x</c>.</summary>
        public const string Headers = "headers";
        /// <summary>The federation plugin's internal exchange type: a fanout gated by the hop and cycle rules.</summary>
        public const string FederationUpstream = "x-federation-upstream";
    }
}
