using Federation.Core.Diagnostics;
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
    /// <summary>
    /// How often a drain counts the messages ready in the queue it empties while it consumes it. Pacing only: what decides
    /// that the queue is empty is a count taken once the drain's consumer has closed (see <see cref="DrainAsync"/>).
    /// </summary>
    internal static readonly TimeSpan DrainPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a drain waits before it consumes again a queue that another consumer holds after its own closed: that
    /// consumer's unacknowledged deliveries keep the queue from counting as empty, so the drain would otherwise open and
    /// close a consumer ten times a second for as long as it stays.
    /// </summary>
    internal static readonly TimeSpan OtherConsumersRetryInterval = TimeSpan.FromSeconds(1);

    private volatile bool _draining;

    // Whether the drain deletes only the queue, not the exchanges named after it (see DrainAsync).
    private bool _queueOnly;

    // 1 while a drain stops its consumer: deliveries that reach the session then are left unacknowledged, so that they go
    // back to the queue as the consumer closes (see ReceiveWhileDrainingAsync).
    private int _drainHeld;

    // Completed when nothing is in flight any more, while a drain stops its consumer; null on any other session.
    private TaskCompletionSource? _drainSettled;

    /// <summary>
    /// Forwards what <paramref name="queue"/> (another link's upstream queue on this session's upstream) holds to this link's
    /// downstream exchange, as the link forwards its own (hop rules, headers, confirms), then deletes it with its internal
    /// exchanges and sentinel. Its internal exchanges go first, so that the upstream routes nothing more to it: the link's
    /// own queue, already bound, receives from then on.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Closes the upstream connection however it ends.
    /// </para>
    /// <para>
    /// When the queue is empty is decided from the broker's answers, not from timing. The count of a queue's messages
    /// (AMQP: a passive declare) is of the ready ones only: what the broker has delivered to the drain's consumer and the
    /// drain has not acknowledged (in the socket, in the client's dispatcher) is not in it, however long one waits. So once
    /// no message is ready the drain stops its consumer: it leaves what reaches it from then on unacknowledged, waits until
    /// everything it took is settled (forwarded and acknowledged, or refused) and its acknowledgements are sent, and closes
    /// the consumer, which gives every delivery it did not acknowledge back to the queue (AMQP: closing the consumer's
    /// channel). Only then a count says what the queue holds: the queue is empty when it has no consumer left (a quorum
    /// queue gives a closed consumer's deliveries back as it removes the consumer) and no message ready. Otherwise the drain
    /// consumes it again, and looks again. <see cref="DrainPollInterval"/> only paces the counts while it consumes.
    /// </para>
    /// <para>
    /// Acknowledgements are sent before the consumer closes, on its own channel, so the broker has them first. A message
    /// whose acknowledgement was lost with a connection that failed is forwarded again by whoever forwards the queue next:
    /// a duplicate, never a loss (this path keeps no ledger, with duplicate suppression too). A consumer without
    /// acknowledgements (no-ack) cannot give back what is on its way to it as it closes: the transport counts those as lost
    /// (<c>shutdown</c>).
    /// </para>
    /// </remarks>
    /// <returns>What became of the queue (<see cref="CleanupOutcome"/>, or <see cref="TakenOverOutcome"/>), or null when the upstream cannot count a queue's messages and this link's queue did not take it over: nothing was forwarded, and the queue is the caller's to delete.</returns>
    /// <param name="queue">The queue to forward and delete.</param>
    /// <param name="why">Why the queue goes, for the warning that counts what its deletion discards, if anything.</param>
    /// <param name="cancellationToken">Cuts the forwarding short.</param>
    /// <param name="queueOnly">
    /// Leave the exchanges named after <paramref name="queue"/> alone, and delete only the queue: one that the link's own
    /// queue hands over to another while it is declared anew (<c>ExchangeLink.Handover</c>), already unbound, whose internal
    /// exchanges and sentinel are the link's own and route to the other queue meanwhile.
    /// </param>
    public async Task<string?> DrainAsync(string queue, string why, CancellationToken cancellationToken, bool queueOnly = false)
    {
        QueueName = queue;
        _queueOnly = queueOnly;
        InitializeTrailEntries();
        try
        {
            if (!queueOnly)
            {
                await UpstreamObjects.DeleteExchangesAsync(_upstream, queue, cancellationToken).ConfigureAwait(false);
            }

            if (await _upstream.CountQueueMessagesAsync(queue, cancellationToken).ConfigureAwait(false) is null)
            {
                var taken = await TakenOverAsync(queue, cancellationToken).ConfigureAwait(false);
                await SafelyAsync(_upstream).ConfigureAwait(false);
                return taken;
            }

            // No ledger: the link's own session keeps it, and this queue's messages never reached it.
            _publisher = await _downstream.Connection.OpenPublisherAsync(
                new PublisherOptions(Confirms: _settings.AckMode == AckMode.OnConfirm, MaxOutstandingConfirms: Math.Max(1, _settings.PrefetchCount)) { Dropped = Lost, Exchange = _definition.Exchange.Name },
                cancellationToken).ConfigureAwait(false);
            _draining = true;
            var heldByOthers = 0;
            var toldHeldByOthers = false;
            while (true)
            {
                var ended = await ConsumeRetiredQueueAsync(queue, cancellationToken).ConfigureAwait(false);
                await ForwardUntilNothingReadyAsync(queue, ended, cancellationToken).ConfigureAwait(false);
                await StopConsumingRetiredQueueAsync(ended, cancellationToken).ConfigureAwait(false);
                var (drained, otherConsumers) = await IsDrainedAsync(queue, cancellationToken).ConfigureAwait(false);
                if (drained)
                {
                    break;
                }

                if (otherConsumers > 0)
                {
                    // Someone else's consumer (an operator's tool, another process) holds deliveries of this queue: deleting
                    // it would lose what they did not acknowledge, so the queue stays until they leave. Said once, on the
                    // second look in a row, so that a consumer the broker is still removing is not taken for another's.
                    if (++heldByOthers == 2 && !toldHeldByOthers)
                    {
                        toldHeldByOthers = true; // once per forwarding: a consumer that comes and goes does not repeat it
                        Log.RetiredQueueHeldByOtherConsumers(_context.Logger, _definition.Id, queue, otherConsumers.Value);
                    }

                    await Task.Delay(OtherConsumersRetryInterval, _context.Time, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    heldByOthers = 0;
                }
            }
        }
        catch (Exception)
        {
            // Forwarded so far is forwarded; the rest goes back to the queue as the session closes, and stays there.
            await ShutDownAsync(cleanup: false, StopDeadline.DrainTimeout).ConfigureAwait(false);
            throw;
        }

        return await ShutDownAsync(cleanup: true, StopDeadline.DrainTimeout, stoppedFor: why).ConfigureAwait(false);
    }

    /// <summary>
    /// On an upstream that cannot count a queue's messages (NATS): when this link's own queue took <paramref name="queue"/>
    /// over as it was created (<see cref="IBrokerConnection.HasTakenOverAsync"/>: a JetStream durable consumer that started
    /// at the old one's acknowledgement floor), the link's own run delivers everything the old queue had not, so the old
    /// queue is deleted, discarding nothing the link would not forward (its internal exchanges went already). Returns what
    /// became of it, or null when it was not taken over: the caller deletes it as before, counting it as discarded.
    /// </summary>
    private async Task<string?> TakenOverAsync(string queue, CancellationToken cancellationToken)
    {
        var own = UpstreamObjects.QueueName(_definition, _upstream);
        if (own == queue || !await _upstream.HasTakenOverAsync(own, queue, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        await _upstream.DeleteQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        return TakenOverOutcome;
    }

    /// <summary>What event 2033 says became of an old queue that the link's own queue took over as it was created.</summary>
    internal const string TakenOverOutcome = CleanupOutcome.Deleted + " (the link's own queue took it over: it was created where the old one stopped, at its first message not acknowledged for good, so the link delivers what the old one had not; some messages arrive twice, none is lost)";

    /// <summary>
    /// Starts a consumer of <paramref name="queue"/>: the first, or a new one after the previous one closed with messages
    /// still in the queue. Returns what completes when the consumer, a connection or a forward fails.
    /// </summary>
    private async Task<Task<Task>> ConsumeRetiredQueueAsync(string queue, CancellationToken cancellationToken)
    {
        if (_consumer is not null)
        {
            // Everything the previous consumer delivered is settled and acknowledged (StopConsumingRetiredQueueAsync).
            _consumer = null;
            _consumerReady = new TaskCompletionSource<IMessageConsumer>(TaskCreationOptions.RunContinuationsAsynchronously);
            _acks = new ContiguousAckTracker();
        }

        Volatile.Write(ref _drainHeld, 0);
        var consumerOptions = new ConsumerOptions(_settings.AckMode == AckMode.NoAck ? 0 : _settings.PrefetchCount, AutoAck: _settings.AckMode == AckMode.NoAck)
        {
            Dropped = Lost,
        };
        _consumer = await _upstream.ConsumeAsync(queue, consumerOptions, OnDeliveryAsync, cancellationToken).ConfigureAwait(false);
        _consumerReady.TrySetResult(_consumer);
        return Task.WhenAny(_upstream.Completion, _consumer.Completion, _downstream.Connection.Completion, _failed.Task);
    }

    /// <summary>Lets the consumer forward, counting the queue's ready messages every <see cref="DrainPollInterval"/>, until none is ready.</summary>
    private async Task ForwardUntilNothingReadyAsync(string queue, Task<Task> ended, CancellationToken cancellationToken)
    {
        while (true)
        {
            await WaitAsync(Task.Delay(DrainPollInterval, _context.Time, cancellationToken), ended).ConfigureAwait(false);
            if (await _upstream.CountQueueMessagesAsync(queue, cancellationToken).ConfigureAwait(false) is null or 0)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Stops the drain's consumer so that nothing it was delivered stays out of the queue's count: what reaches the session
    /// from now on is left unacknowledged, what it took is settled and acknowledged, then the consumer closes, giving back
    /// whatever it did not acknowledge.
    /// </summary>
    private async Task StopConsumingRetiredQueueAsync(Task<Task> ended, CancellationToken cancellationToken)
    {
        var settled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drainSettled, settled);
        Interlocked.Exchange(ref _drainHeld, 1);

        // Read atomically after the hold: a delivery that did not see the hold was counted in flight before it looked.
        if (Interlocked.CompareExchange(ref _inFlight, 0, 0) > 0)
        {
            await WaitAsync(settled.Task.WaitAsync(cancellationToken), ended).ConfigureAwait(false);
        }

        // Every settlement has requested its ack by now; the flush they started sends it, before the consumer closes.
        while (Volatile.Read(ref _ackFlushRunning) != 0)
        {
            await WaitAsync(Volatile.Read(ref _ackFlush).WaitAsync(cancellationToken), ended).ConfigureAwait(false);
            if (_failed.Task.IsCompleted)
            {
                await _failed.Task.ConfigureAwait(false); // rethrows what failed the flush
            }

            if (Volatile.Read(ref _ackFlushRunning) != 0)
            {
                await Task.Yield(); // another flush started as the one awaited ended
            }
        }

        await SafelyAsync(_consumer).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the queue is empty, the drain's consumer closed: no consumer left (one that still has some holds what it was
    /// delivered and did not acknowledge) and no message ready; or the queue is gone.
    /// </summary>
    /// <returns>Whether it is drained, and how many consumers (not the drain's, which is closed) the queue still has.</returns>
    private async Task<(bool Drained, long? OtherConsumers)> IsDrainedAsync(string queue, CancellationToken cancellationToken)
    {
        // Consumers first: once none is left, whatever they held is back among the ready messages that the next count reads.
        var consumers = await _upstream.CountQueueConsumersAsync(queue, cancellationToken).ConfigureAwait(false);
        var ready = await _upstream.CountQueueMessagesAsync(queue, cancellationToken).ConfigureAwait(false);
        return (ready is null || (ready == 0 && consumers is null or 0), ready is null ? null : consumers);
    }

    /// <summary>
    /// A delivery to a drain. It counts as in flight from before it looks whether the drain stops its consumer until it is
    /// settled, so that the drain waits for it; once the drain stops it, it is left unacknowledged and returns to the queue
    /// as the consumer closes. A delivery that cannot return (no-ack, an upstream that cannot take a message back) is
    /// forwarded still.
    /// </summary>
    private async ValueTask ReceiveWhileDrainingAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            if (Volatile.Read(ref _drainHeld) != 0 && _settings.AckMode != AckMode.NoAck && _consumer is { CanRequeue: true })
            {
                return;
            }

            await Receive(delivery, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Settled();
        }
    }

    /// <summary>Waits for <paramref name="step"/>, unless the consumer, a connection or a forward fails first.</summary>
    private static async Task WaitAsync(Task step, Task<Task> ended)
    {
        if (await Task.WhenAny(step, ended).ConfigureAwait(false) == ended)
        {
            var cause = await ended.ConfigureAwait(false);
            await cause.ConfigureAwait(false); // rethrows a fault
            throw new ConnectionLostException("The upstream consumer or a connection closed while the link forwarded a queue a reload left behind.");
        }

        await step.ConfigureAwait(false); // throws when cancelled
    }

    private void InitializeTrailEntries()
    {
        _entry = new ReceivedFromEntry(UriRedaction.ForTrail(_upstream.DisplayUri), _definition.UpstreamExchange, false, _upstream.ClusterName, _upstream.VirtualHost);
        _redeliveredEntry = _entry with { Redelivered = true };
        _trailEntry = HopRules.SharedReceivedFrom(_entry);
        _redeliveredTrailEntry = HopRules.SharedReceivedFrom(_redeliveredEntry);
    }
}
