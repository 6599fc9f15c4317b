using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// What the official client reports about the connection on its own: a disconnect (the connection is lost), a server
/// error that refuses a subscription (lost too) or a publish (a drop, counted to the publisher that sent it), and a
/// message it dropped from a full subscription buffer (a drop, told to every consumer).
/// </summary>
internal sealed partial class NatsBrokerConnection
{
    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            Lost(new ConnectionLostException($"The NATS connection {DisplayUri} was lost."));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The server refused a subscription of this connection (see <see cref="NatsSubscriptionRefusal"/>): the client keeps
    /// it as if active, but nothing will arrive on it, so this connection can no longer do what its bindings promise. It is
    /// declared lost, like a subscription the client ended: the link that owns it fails with the reason and retries on its
    /// reconnect schedule, instead of showing running while it receives nothing.
    /// </summary>
    private ValueTask OnServerErrorAsync(object? sender, NatsServerErrorEventArgs args)
    {
        if (Volatile.Read(ref _disposed) == 0 && NatsSubscriptionRefusal.TryParse(args, out var subject))
        {
            Lost(new ConnectionLostException($"{NatsSubscriptionRefusal.Describe(subject, DisplayUri)}; the link starts over."));
        }
        else if (NatsPublishRefusal.TryParse(args, out var refused))
        {
            // One error per refused PUB: each is one message the server dropped, counted by the publisher that sent it.
            // The confirm of that publish may have succeeded already (the client raises this event on a task of its own).
            MessageDropHandler[] listeners;
            lock (_lock)
            {
                listeners = [.. _publishDropListeners.Where(l => l.Publisher.PublishesTo(refused)).Select(l => l.Handler)];
            }

            var cause = NatsPublishRefusal.Describe(refused, DisplayUri);
            foreach (var listener in listeners)
            {
                listener("downstream_rejected", 1, cause);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The client dropped a message because a subscription's buffer was full (only when the configure callback chose a drop
    /// mode; the default here waits). Which consumer it was meant for is unknown, so every consumer of this connection (in
    /// the engine: the one link that owns it) is told.
    /// </summary>
    private ValueTask OnMessageDroppedAsync(object? sender, NatsMessageDroppedEventArgs args)
    {
        MessageDropHandler[] listeners;
        lock (_lock)
        {
            listeners = [.. _dropListeners.Select(l => l.Handler)];
        }

        if (listeners.Length == 0)
        {
            return ValueTask.CompletedTask;
        }

        // One cause for every listener: a slow-consumer storm drops many messages a second.
        var cause = $"the NATS client's buffer for subject '{args.Subject}' was full";
        foreach (var listener in listeners)
        {
            listener("slow_consumer", 1, cause);
        }

        return ValueTask.CompletedTask;
    }
}
