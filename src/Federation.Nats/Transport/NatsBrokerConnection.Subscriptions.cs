using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// The NATS subscriptions behind the emulated exchanges' bindings: one per exchange and subject, shared by the bindings
/// that map to it (see <see cref="NatsExchangeSubscription"/>), subscribed when the first binding needs it and
/// unsubscribed once none does and it can go without losing a message. A subscription the client ends on its own
/// makes the connection lost.
/// </summary>
internal sealed partial class NatsBrokerConnection
{
    private long _nextSubscriptionId;

    private async ValueTask AddSubjectAsync(NatsEmulatedExchange source, string subject, CancellationToken cancellationToken)
    {
        NatsExchangeSubscription entry;
        lock (_lock)
        {
            if (source.Subscriptions.TryGetValue(subject, out var existing))
            {
                existing.References++;
                return;
            }

            // Registered before the SUB goes out, so the very first MSG already finds its entry.
            entry = new NatsExchangeSubscription(Interlocked.Increment(ref _nextSubscriptionId), subject);
            source.Subscriptions[subject] = entry;
        }

        try
        {
            var subscription = new NatsRoutingSubscription(
                _nats,
                subject,
                (received, headers, body) => Route(source, entry, received, headers, body),
                (received, cause) => Unreadable(source, entry, received, cause),
                SubscriptionEnded);
            entry.Subscription = subscription;
            await _nats.AddSubAsync(subscription, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            lock (_lock)
            {
                source.Subscriptions.Remove(subject);
            }

            throw ex is NatsException ? new ConnectionLostException($"Subscribing to '{subject}' failed: {NatsErrorText.Message(ex, _nats.Opts)}", NatsErrorText.SafeInner(ex, _nats.Opts)) : ex;
        }
    }

    /// <summary>
    /// A binding of <paramref name="source"/> on <paramref name="subject"/> went: the subscription on that subject loses a
    /// reference, and the subscriptions no binding needs any more are unsubscribed once they can go without losing a
    /// message (see <see cref="NatsEmulatedExchange.TakeUnneededSubscriptions"/>).
    /// </summary>
    private async ValueTask RemoveSubjectAsync(NatsEmulatedExchange source, string subject)
    {
        List<NatsExchangeSubscription>? drops = null;
        lock (_lock)
        {
            if (source.Subscriptions.TryGetValue(subject, out var entry) && --entry.References == 0)
            {
                drops = source.TakeUnneededSubscriptions();
            }
        }

        foreach (var drop in drops ?? [])
        {
            await SafeUnsubscribeAsync(drop).ConfigureAwait(false);
        }
    }

    private static async ValueTask SafeUnsubscribeAsync(NatsExchangeSubscription entry)
    {
        if (entry.Subscription is not { } subscription)
        {
            return;
        }

        try
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or ObjectDisposedException)
        {
            // The connection is going away; the server drops the subscription with it.
        }
    }

    /// <summary>
    /// The client ended a subscription nobody unsubscribed: the server no longer delivers its messages, so this connection
    /// can no longer do what its bindings promise. It is declared lost, which fails the link that owns it and makes it
    /// start over (on a new connection, with its subscriptions), instead of showing running while it receives nothing.
    /// </summary>
    private void SubscriptionEnded(NatsRoutingSubscription subscription)
    {
        if (Volatile.Read(ref _disposed) != 0 || _completion.Task.IsCompleted)
        {
            return; // the connection is going away: every subscription ends with it
        }

        var why = subscription.Exception is { } error ? $"{subscription.EndReason}: {NatsErrorText.Message(error, _nats.Opts)}" : subscription.EndReason.ToString();
        Lost(new ConnectionLostException($"The NATS client ended the subscription to '{subscription.Subject}' ({why}); the link starts over."));
    }

    /// <summary>The subscriptions this connection has on the server (tests end one to see the connection notice).</summary>
    internal IReadOnlyList<NatsSubBase> ActiveSubscriptions
    {
        get
        {
            lock (_lock)
            {
                return [.. _exchanges.Values.SelectMany(e => e.Subscriptions.Values).Select(s => s.Subscription).OfType<NatsSubBase>()];
            }
        }
    }
}
