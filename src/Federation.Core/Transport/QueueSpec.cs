namespace Federation.Core.Transport;

/// <summary>Describes a queue to declare.</summary>
/// <param name="Name">Queue name.</param>
/// <param name="Durable">Survives a broker restart.</param>
/// <param name="Exclusive">Owned by the declaring connection and deleted with it.</param>
/// <param name="AutoDelete">Deleted when its last consumer goes away.</param>
/// <param name="Arguments">Declaration arguments such as <c>x-expires</c>, <c>x-message-ttl</c>, <c>x-queue-type</c>.</param>
public sealed record QueueSpec(
    string Name,
    bool Durable = true,
    bool Exclusive = false,
    bool AutoDelete = false,
    IReadOnlyDictionary<string, object?>? Arguments = null)
{
    /// <summary>Equality including a deep comparison of <see cref="Arguments"/>.</summary>
    public bool Equals(QueueSpec? other) =>
        other is not null
        && Name == other.Name
        && Durable == other.Durable
        && Exclusive == other.Exclusive
        && AutoDelete == other.AutoDelete
        && HeaderValueComparer.Instance.Equals(Arguments, other.Arguments);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Durable, Exclusive, AutoDelete, HeaderValueComparer.Instance.GetHashCode(Arguments));
}
