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
    /// <summary>
    /// The name of a queue on the same broker and vhost whose place this one takes, or <see langword="null"/>: a link that
    /// replaces another (a reload renamed the downstream, so the new link has another id and queue name) declares its queue
    /// with the old link's, which it forwards and deletes once its own is bound. A transport whose queues are cursors over a
    /// log that outlives them (NATS JetStream: a durable consumer on the exchange's stream) starts a queue it creates for
    /// this declaration where the named queue stopped (its first message not acknowledged for good), so that what the old
    /// queue had not delivered, and what the log captured before this one existed, is delivered by this one too: duplicates,
    /// never a loss. It then says so (<see cref="IBrokerConnection.HasTakenOverAsync"/>). Other transports ignore it: their
    /// queue receives from its first binding on, and the old queue's messages are forwarded from the old queue.
    /// </summary>
    /// <remarks>
    /// Not a property of the queue on the broker: left out of equality, so a redeclaration with or without it is the same
    /// declaration, and a queue that exists already is used as it is.
    /// </remarks>
    public string? TakesOver { get; init; }

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
