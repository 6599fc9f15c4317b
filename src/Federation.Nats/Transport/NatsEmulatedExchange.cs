using Federation.Core.Transport;

namespace Federation.Nats.Transport;

/// <summary>
/// An emulated exchange of <see cref="NatsBrokerConnection"/>: a router with the bindings whose source it is and, unless it
/// is internal, the NATS subscriptions on the subjects those bindings map to (by subject). Not thread-safe: guarded by the
/// connection's lock.
/// </summary>
internal sealed class NatsEmulatedExchange(ExchangeSpec spec)
{
    public ExchangeSpec Spec { get; } = spec;

    public HashSet<BindingSpec> Bindings { get; } = [];

    public Dictionary<string, NatsExchangeSubscription> Subscriptions { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The subjects <paramref name="binding"/> subscribes to: none for an internal exchange, which only other exchanges
    /// route to (see <see cref="NatsSubjectMapping.SubscribeSubjects"/>).
    /// </summary>
    public IReadOnlyList<string> SubjectsFor(BindingSpec binding) =>
        Spec.Internal ? [] : NatsSubjectMapping.SubscribeSubjects(Spec.Name, Spec.Type, binding.RoutingKey);

    /// <summary>
    /// Takes out of this exchange the subscriptions no binding needs any more that can go without losing a message (call
    /// under the connection's lock): one with no higher-id subscription overlapping it.
    /// </summary>
    /// <remarks>
    /// A message that several subscriptions of the exchange receive is routed by the lowest-id one only (see
    /// <see cref="NatsBrokerConnection"/>'s routing). Removing that one while a higher-id overlapping one stays could lose a
    /// message whose higher-id copy the read loop already skipped and whose own copy it has not read yet. So such a
    /// subscription stays subscribed, routing as before, with no binding of its own, until no higher-id subscription
    /// overlaps it; a later bind of the same subject takes it back.
    /// </remarks>
    public List<NatsExchangeSubscription> TakeUnneededSubscriptions()
    {
        // From the newest down: whether one can go depends only on the newer ones, which are already settled.
        var taken = new List<NatsExchangeSubscription>();
        foreach (var entry in Subscriptions.Values.OrderByDescending(e => e.Id).ToList())
        {
            if (entry.References == 0
                && !Subscriptions.Values.Any(other => other.Id > entry.Id && NatsSubjectMapping.SubjectsOverlap(entry.Subject, other.Subject)))
            {
                Subscriptions.Remove(entry.Subject);
                taken.Add(entry);
            }
        }

        return taken;
    }
}
