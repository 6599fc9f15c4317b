namespace Federation.Nats.Transport;

/// <summary>
/// One NATS subscription of an emulated exchange (<see cref="NatsEmulatedExchange"/>) on one subject, shared by the
/// bindings that map to that subject. Its id orders the exchange's subscriptions: of several that receive one message,
/// the lowest-id one routes it. Not thread-safe: guarded by the connection's lock.
/// </summary>
internal sealed class NatsExchangeSubscription(long id, string subject)
{
    public long Id { get; } = id;

    public string Subject { get; } = subject;

    /// <summary>How many bindings of the exchange map to <see cref="Subject"/>; 0 for one kept only so that no message is lost.</summary>
    public int References { get; set; } = 1;

    /// <summary>The client's subscription, once it was made.</summary>
    public NatsRoutingSubscription? Subscription { get; set; }
}
