using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Routing a message that arrived on one of the exchanges' subscriptions to the emulated queues its exchange's bindings
/// (and those of the exchanges they lead to) select. A message that several overlapping subscriptions of one exchange
/// receive (NATS sends one copy per matching subscription) is routed once: only by the matching subscription with the
/// lowest id.
/// </summary>
internal sealed partial class NatsBrokerConnection
{
    [ThreadStatic]
    private static HashSet<NatsEmulatedQueue>? t_targets;
    [ThreadStatic]
    private static HashSet<string>? t_visited;

    /// <summary>Routes one MSG that arrived on <paramref name="via"/>, unless a lower-id subscription of the same exchange also matches it.</summary>
    private ValueTask Route(NatsEmulatedExchange source, NatsExchangeSubscription via, string subject, NatsHeaders? headers, byte[]? data)
    {
        var targets = t_targets ??= [];
        if (!TryCollectTargets(source, via, subject, targets, out var routingKey))
        {
            return ValueTask.CompletedTask;
        }

        var message = new NatsQueuedMessage(source.Spec.Name, routingKey, headers, data ?? []);
        if (targets.Count == 1)
        {
            // The usual case (one link queue): no copy of the target set.
            foreach (var queue in targets)
            {
                targets.Clear();
                return queue.OfferAsync(message, _closing.Token);
            }
        }

        NatsEmulatedQueue[] all = [.. targets];
        targets.Clear();
        return OfferAllAsync(all, message);
    }

    /// <summary>
    /// Fills <paramref name="targets"/> (emptied first) with the queues a message on <paramref name="subject"/> that arrived on
    /// <paramref name="via"/> goes to; false when it goes nowhere from this copy (no routing key, a subscription that is no
    /// longer current, or a lower-id subscription of the same exchange that routes it).
    /// </summary>
    private bool TryCollectTargets(NatsEmulatedExchange source, NatsExchangeSubscription via, string subject, HashSet<NatsEmulatedQueue> targets, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? routingKey)
    {
        targets.Clear();
        if (!NatsSubjectMapping.TryGetRoutingKey(source.Spec.Name, subject, out routingKey))
        {
            return false;
        }

        // This runs synchronously on a read loop: a per-thread scratch set instead of a new set per message.
        var visited = t_visited ??= new HashSet<string>(StringComparer.Ordinal);
        visited.Clear();
        lock (_lock)
        {
            if (!source.Subscriptions.TryGetValue(via.Subject, out var current) || current != via)
            {
                return false;
            }

            foreach (var other in source.Subscriptions.Values)
            {
                if (other.Id < via.Id && NatsSubjectMapping.SubjectMatches(other.Subject, subject))
                {
                    return false; // that subscription routes this message
                }
            }

            CollectTargets(source, routingKey, targets, visited);
        }

        return true;
    }

    private void CollectTargets(NatsEmulatedExchange exchange, string routingKey, HashSet<NatsEmulatedQueue> targets, HashSet<string> visited)
    {
        if (!visited.Add(exchange.Spec.Name))
        {
            return;
        }

        foreach (var binding in exchange.Bindings)
        {
            if (!NatsSubjectMapping.Routes(exchange.Spec.Type, binding.RoutingKey, routingKey))
            {
                continue;
            }

            if (binding.DestinationKind == BindingDestinationKind.Queue)
            {
                if (_queues.TryGetValue(binding.Destination, out var queue))
                {
                    targets.Add(queue);
                }
            }
            else if (_exchanges.TryGetValue(binding.Destination, out var next))
            {
                CollectTargets(next, routingKey, targets, visited);
            }
        }
    }

    private async ValueTask OfferAllAsync(NatsEmulatedQueue[] queues, NatsQueuedMessage message)
    {
        foreach (var queue in queues)
        {
            await queue.OfferAsync(message, _closing.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A message whose header block cannot be parsed: it cannot be carried, so it is dropped and reported (as
    /// <c>unreadable</c>) to the consumers of the queues it would have gone to, counted once however many overlapping
    /// subscriptions received it.
    /// </summary>
    private void Unreadable(NatsEmulatedExchange source, NatsExchangeSubscription via, string subject, Exception cause)
    {
        var targets = t_targets ??= [];
        if (!TryCollectTargets(source, via, subject, targets, out _))
        {
            return;
        }

        MessageDropHandler[] listeners;
        lock (_lock)
        {
            listeners = [.. _dropListeners.Where(l => targets.Contains(l.Queue)).Select(l => l.Handler)];
        }

        targets.Clear();
        // The link logs the episode (once); here, at debug, which subject and why, for whoever looks for the publisher.
        NatsRoutingLog.UnreadableDropped(_logger, DisplayUri, subject, cause.Message);
        foreach (var listener in listeners)
        {
            listener(UnreadableReason, 1, $"the header block of a message on '{subject}' cannot be parsed: {cause.Message}");
        }
    }
}
