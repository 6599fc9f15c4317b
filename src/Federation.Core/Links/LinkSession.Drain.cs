using Federation.Core.Hops;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The one-off forwarding of an upstream queue that a reload left behind when it renamed the downstream (another cluster
/// name on the same broker, vhost and exchange): what that queue still holds is exactly what this session's link would
/// forward, so the link forwards it through a session of its own before the queue is deleted (see
/// <see cref="RetiredUpstreamQueues"/>).
/// </summary>
internal sealed partial class LinkSession
{
    /// <summary>How often a drain looks whether the queue it empties is empty.</summary>
    internal static readonly TimeSpan DrainPollInterval = TimeSpan.FromMilliseconds(100);

    // Deliveries taken by a drain, so that it tells an empty queue from one whose messages are on their way to it.
    private int _drainDeliveries;
    private volatile bool _draining;

    /// <summary>
    /// Forwards what <paramref name="queue"/> (another link's upstream queue on this session's upstream) holds to this link's
    /// downstream exchange, as the link forwards its own (hop rules, headers, confirms), then deletes it with its internal
    /// exchanges and sentinel. Its internal exchanges go first, so that the upstream routes nothing more to it: the link's
    /// own queue, already bound, receives from then on. The queue counts as empty once the upstream reports no message
    /// ready, nothing is in flight, and no delivery came since the previous look; what the deletion still discards is
    /// counted (event 1028, with <paramref name="why"/>).
    /// </summary>
    /// <returns>What became of the queue (<see cref="CleanupOutcome"/>), or null when the upstream cannot count a queue's messages: nothing was forwarded, and the queue is the caller's to delete.</returns>
    /// <remarks>Closes the upstream connection however it ends.</remarks>
    public async Task<string?> DrainAsync(string queue, string why, CancellationToken cancellationToken)
    {
        QueueName = queue;
        InitializeTrailEntries();
        try
        {
            await UpstreamObjects.DeleteExchangesAsync(_upstream, queue, cancellationToken).ConfigureAwait(false);
            if (await _upstream.CountQueueMessagesAsync(queue, cancellationToken).ConfigureAwait(false) is null)
            {
                await SafelyAsync(_upstream).ConfigureAwait(false);
                return null;
            }

            // No ledger: the link's own session keeps it, and this queue's messages never reached it.
            _publisher = await _downstream.Connection.OpenPublisherAsync(
                new PublisherOptions(Confirms: _settings.AckMode == AckMode.OnConfirm, MaxOutstandingConfirms: Math.Max(1, _settings.PrefetchCount)) { Dropped = Lost },
                cancellationToken).ConfigureAwait(false);
            _draining = true;
            var consumerOptions = new ConsumerOptions(_settings.AckMode == AckMode.NoAck ? 0 : _settings.PrefetchCount, AutoAck: _settings.AckMode == AckMode.NoAck)
            {
                Dropped = Lost,
            };
            _consumer = await _upstream.ConsumeAsync(queue, consumerOptions, OnDeliveryAsync, cancellationToken).ConfigureAwait(false);
            _consumerReady.TrySetResult(_consumer);
            await WaitUntilEmptyAsync(queue, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Forwarded so far is forwarded; the rest goes back to the queue as the session closes, and stays there.
            await ShutDownAsync(cleanup: false, StopDeadline.DrainTimeout).ConfigureAwait(false);
            throw;
        }

        return await ShutDownAsync(cleanup: true, StopDeadline.DrainTimeout, stoppedFor: why).ConfigureAwait(false);
    }

    private async Task WaitUntilEmptyAsync(string queue, CancellationToken cancellationToken)
    {
        var ended = Task.WhenAny(_upstream.Completion, _consumer!.Completion, _downstream.Connection.Completion, _failed.Task);
        var seen = -1;
        while (true)
        {
            var delivered = Volatile.Read(ref _drainDeliveries);
            var ready = await _upstream.CountQueueMessagesAsync(queue, cancellationToken).ConfigureAwait(false);
            if (ready is null or 0 && Volatile.Read(ref _inFlight) == 0)
            {
                if (delivered == seen)
                {
                    return;
                }

                seen = delivered;
            }
            else
            {
                seen = -1;
            }

            var wait = Task.Delay(DrainPollInterval, _context.Time, cancellationToken);
            if (await Task.WhenAny(wait, ended).ConfigureAwait(false) == ended)
            {
                var cause = await ended.ConfigureAwait(false);
                await cause.ConfigureAwait(false); // rethrows a fault
                throw new ConnectionLostException("The upstream consumer or a connection closed while the link forwarded a queue a reload left behind.");
            }

            await wait.ConfigureAwait(false); // throws when cancelled
        }
    }

    private void CountDrainDelivery()
    {
        if (_draining)
        {
            Interlocked.Increment(ref _drainDeliveries);
        }
    }

    private void InitializeTrailEntries()
    {
        _entry = new ReceivedFromEntry(UriRedaction.Redact(_upstream.DisplayUri), _definition.UpstreamExchange, false, _upstream.ClusterName, _upstream.VirtualHost);
        _redeliveredEntry = _entry with { Redelivered = true };
        _trailEntry = HopRules.SharedReceivedFrom(_entry);
        _redeliveredTrailEntry = HopRules.SharedReceivedFrom(_redeliveredEntry);
    }
}
