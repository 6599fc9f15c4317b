using System.Threading.Channels;
using Federation.Core.Diagnostics;
using Federation.Core.Links.Deduplication;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Duplicate suppression (<c>duplicate-suppression</c>, on-confirm links). Each forwarded delivery's identity
/// (<see cref="DeliveryFingerprint"/>) is written to a ledger on the downstream in the same unit as the message itself
/// (<see cref="IDeliveryLedger.PublishAndRecordAsync"/>: all or nothing), and only then acknowledged upstream. So every
/// message that reached the downstream has its identity in the ledger, whatever crashes when: a redelivery of it after a
/// crash of the upstream broker or of this process is found in the window rebuilt from the ledger, acknowledged upstream
/// and not published again. A delivery whose unit never committed is not in the ledger and is forwarded normally. A unit
/// the downstream committed only in part (a queue refused some of its messages, <see cref="UnitPartlyCommittedException"/>)
/// is revoked in the ledger (see <see cref="RevokeAsync"/>), so that its redeliveries are forwarded too.
/// </summary>
internal sealed partial class LinkSession
{
    /// <summary>Identities kept per link: the newest 100,000 forwarded deliveries (about 5 MB when full).</summary>
    internal const int DuplicateWindowCapacity = 100_000;

    /// <summary>How long an identity is kept: a day, counted from when its delivery was committed downstream.</summary>
    internal static readonly TimeSpan DuplicateWindowAge = TimeSpan.FromHours(24);

    private IDeliveryLedger? _ledger;
    private DuplicateWindow? _window;
    private Channel<PendingForward>? _batches;
    // The unit loop's latest run, and whether one runs (1): at most one at a time, started by the forward that finds it idle.
    private Task _batchLoop = Task.CompletedTask;
    private int _unitLoopRunning;
    // Set by a run that failed: it leaves _unitLoopRunning set for good, so that no run follows it.
    private volatile bool _unitLoopFailed;
    // Reused from unit to unit, by one run of the loop at a time: the ledger is done with them when its call completes.
    private readonly List<PendingForward> _unit = [];
    private readonly List<LedgerMessage> _unitMessages = [];
    private readonly List<LedgerEntry> _unitEntries = [];
    // Identities handed to the batch loop and not committed yet, with how many deliveries carry each (equal messages
    // without a message-id may be in flight together); locked by itself, and the window is only touched under it.
    private readonly Dictionary<UInt128, int> _uncommitted = [];

    private bool Deduplicating => _ledger is not null;

    /// <summary>Opens the ledger and rebuilds the window from it, then compacts it; before the consumer starts.</summary>
    private async Task SetUpDeduplicationAsync(CancellationToken cancellationToken)
    {
        if (_settings.AckMode != AckMode.OnConfirm || !_settings.DuplicateSuppression)
        {
            return;
        }

        var name = UpstreamNaming.LedgerName(_definition.Exchange.Name, _settings.UpstreamName, _definition.Id);
        var ledger = await _downstream.Connection.OpenLedgerAsync(
            new LedgerOptions(name, 2L * DuplicateWindowCapacity * LedgerRecord.EntrySize), cancellationToken).ConfigureAwait(false);
        if (ledger is null)
        {
            Log.LedgerUnsupported(_context.Logger, _definition.Id);
            return;
        }

        try
        {
            var records = await ledger.ReadAsync(cancellationToken).ConfigureAwait(false);
            // Revocations apply in queue order; one that an earlier session could not store applies last.
            var pending = _context.Revocations.Snapshot();
            var entries = LedgerReplay.Entries(records, pending);

            // Oldest first, so that the window's capacity keeps the newest and its age check can stop at the head.
            entries.Sort(static (a, b) => a.ConfirmedAtUnixMs.CompareTo(b.ConfirmedAtUnixMs));
            var now = _context.Time.GetUtcNow();
            var window = new DuplicateWindow(DuplicateWindowCapacity, DuplicateWindowAge);
            window.Add(entries, now);
            if (records.Count > 1 || (records.Count > 0 && pending.Length > 0))
            {
                // Trim: one record with the live window replaces everything read (too old or beyond the capacity). It
                // leaves out what was revoked, so it stores a pending revocation too, before the consumer starts.
                await ledger.CompactAsync(LedgerRecord.EncodeInParts(window.Snapshot(now)), cancellationToken).ConfigureAwait(false);
            }

            // Stored by the compaction, or nothing to revoke in an empty ledger.
            _context.Revocations.Stored(pending);

            Log.LedgerLoaded(_context.Logger, _definition.Id, window.Count, name, records.Count);
            _window = window;
            _ledger = ledger;
            // Read by one run of the unit loop at a time, but runs may start on different threads.
            _batches = Channel.CreateUnbounded<PendingForward>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
        }
        catch
        {
            await SafelyAsync(ledger).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Drops a delivery whose identity was already forwarded (acknowledging it upstream), or queues it for the next
    /// committed batch. Runs on the consumer's delivery loop, one delivery at a time.
    /// </summary>
    private ValueTask ForwardOnce(IMessageConsumer consumer, Delivery delivery, UInt128 identity, MessageProperties properties, ForwardSpans spans)
    {
        // A message-id says which messages are the same one, so every delivery is checked. A fingerprint cannot tell a
        // repeat from a new message that happens to be equal (a heartbeat, say), so only what the broker flags as
        // possibly delivered before is checked: a redelivery after this process or the upstream broker crashed.
        var check = delivery.Redelivered || !string.IsNullOrEmpty(properties.MessageId);
        bool duplicate;
        lock (_uncommitted)
        {
            // A delivery equal to one still being committed is a duplicate too: at most one of them may be published.
            duplicate = check && (_uncommitted.ContainsKey(identity) || _window!.Contains(identity, _context.Time.GetUtcNow()));
            if (!duplicate)
            {
                _uncommitted[identity] = _uncommitted.GetValueOrDefault(identity) + 1;
            }
        }

        if (duplicate)
        {
            spans.End(null);
            _context.Counters.Dropped(DuplicateReason);
            if (!delivery.Redelivered && !string.IsNullOrEmpty(properties.MessageId))
            {
                NoteReusedMessageId(properties.MessageId);
            }

            Track(delivery.DeliveryTag);
            Acknowledge(consumer, delivery.DeliveryTag);
            return ValueTask.CompletedTask;
        }

        Track(delivery.DeliveryTag);
        // An upstream consumer that does not bound its deliveries by the prefetch (core NATS) would let forwards pile up in
        // the unit queue without limit while the downstream commits slowly. Past the window, as on the path without a
        // ledger (see Forward), the consumer waits until this forward is settled, and the upstream pushes back instead.
        var inFlight = Interlocked.Increment(ref _inFlight);
        var settled = !consumer.EnforcesPrefetch && inFlight > _inFlightWindow ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        var pending = new PendingForward(consumer, delivery.DeliveryTag, identity, new LedgerMessage(_definition.Exchange.Name, delivery.RoutingKey, properties, delivery.Body) { Span = spans.Publish }, spans, settled);
        if (!_batches!.Writer.TryWrite(pending))
        {
            // The batch loop ended (the session is failing): leave the delivery unacknowledged, it comes back.
            lock (_uncommitted)
            {
                Uncommitted(identity);
            }

            spans.End(null);
            Settled();
            return ValueTask.CompletedTask;
        }
        else if (Interlocked.Exchange(ref _unitLoopRunning, 1) == 0)
        {
            // No unit is committing: this one starts on the consumer's thread, up to its first wait for the broker, instead
            // of waking a loop on another thread for it (a thread wake-up per unit, most units at moderate rates). While it
            // commits, later forwards queue up and the run that is under way takes them as the next unit, in order.
            Volatile.Write(ref _batchLoop, CommitBatchesAsync());
        }

        return settled is null ? ValueTask.CompletedTask : new ValueTask(settled.Task);
    }

    /// <summary>
    /// Commits what has queued up as one unit (messages and their ledger record), then acknowledges it upstream, and goes
    /// on with what queued meanwhile until nothing is left. While one unit commits the next one fills, so under load a
    /// commit covers up to a prefetch's worth of messages. One run at a time (<see cref="_unitLoopRunning"/>): a run that
    /// finds nothing left clears the flag, and the next forward starts the next run.
    /// </summary>
    private async Task CommitBatchesAsync()
    {
        var reader = _batches!.Reader;
        var batch = _unit;
        var messages = _unitMessages;
        var entries = _unitEntries;
        var maxBatch = Math.Max(1, _settings.PrefetchCount);
        try
        {
            while (true)
            {
                while (batch.Count < maxBatch && reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                if (batch.Count == 0)
                {
                    // A full fence (not a release store), so that the count below is read after the flag is cleared.
                    Interlocked.Exchange(ref _unitLoopRunning, 0);

                    // A forward queued between the last read and the flag's clearing saw the flag set and left its unit to
                    // this run: take it, unless a newer forward has started a run for it already. (Count, not TryPeek: a
                    // peek keeps the queue's segment, and with it the bodies of every forward dequeued from it, alive.)
                    if (reader.Count == 0 || Interlocked.Exchange(ref _unitLoopRunning, 1) != 0)
                    {
                        return;
                    }

                    continue;
                }

                var confirmedAt = _context.Time.GetUtcNow();
                messages.Clear();
                entries.Clear();
                foreach (var pending in batch)
                {
                    messages.Add(pending.Message);
                    entries.Add(new LedgerEntry(pending.Identity, confirmedAt.ToUnixTimeMilliseconds()));
                }

                if (_lease is { IsHeld: false } && batch[0].Consumer.CanRequeue)
                {
                    // Fencing, as for a single forward: the unit would go out under a lease that has lapsed.
                    throw new ConnectionLostException("The link's lease lapsed before a unit could be committed; its deliveries go back upstream.");
                }

                if (!await PublishUnitAsync(batch, messages, entries).ConfigureAwait(false))
                {
                    continue; // Every message of the unit was refused and settled.
                }

                lock (_uncommitted)
                {
                    _window!.Add(entries, confirmedAt);
                    foreach (var pending in batch)
                    {
                        Uncommitted(pending.Identity);
                    }
                }

                _context.Counters.Forwarded(batch.Count);
                foreach (var pending in batch)
                {
                    pending.Spans.End(null);
                    Acknowledge(pending.Consumer, pending.DeliveryTag);
                    Settled(pending);
                }

                batch.Clear();
            }
        }
        catch (Exception ex)
        {
            // Not acknowledged: the upstream redelivers these when the link reconnects. If the unit did commit after all
            // (the connection broke while committing), their identities are in the ledger and the redeliveries are dropped.
            // One that the downstream committed only in part is revoked first, so that its redeliveries are forwarded.
            if (ex is UnitPartlyCommittedException partial)
            {
                await RevokeAsync(entries, partial).ConfigureAwait(false);
            }

            _batches.Writer.TryComplete();
            while (reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            lock (_uncommitted)
            {
                _uncommitted.Clear();
            }

            foreach (var pending in batch)
            {
                pending.Spans.End(ex);
                Settled(pending);
            }

            // The flag stays set: no run starts after this one, and forwards find the channel completed and settle themselves.
            batch.Clear();
            _unitLoopFailed = true;
            Fail(ex);
        }
    }

    /// <summary>
    /// Publishes a unit, taking out (and settling, see <see cref="RefuseAsync"/>) each message the downstream can never
    /// carry, which the ledger refuses before it publishes anything of the unit. Returns false when none is left to publish.
    /// </summary>
    private async Task<bool> PublishUnitAsync(List<PendingForward> batch, List<LedgerMessage> messages, List<LedgerEntry> entries)
    {
        while (batch.Count > 0)
        {
            try
            {
                await _ledger!.PublishAndRecordAsync(messages, LedgerRecord.Encode(entries), CancellationToken.None).ConfigureAwait(false);
                return true;
            }
            catch (MessageRefusedException refusal) when (refusal.Index >= 0 && refusal.Index < batch.Count)
            {
                // The ledger names the refused message (too large, or a user_id the downstream user may not claim); the
                // unit was not committed, so its identity is recorded nowhere and the rest goes again without it.
                var refused = batch[refusal.Index];
                batch.RemoveAt(refusal.Index);
                messages.RemoveAt(refusal.Index);
                entries.RemoveAt(refusal.Index);
                lock (_uncommitted)
                {
                    Uncommitted(refused.Identity);
                }

                refused.Spans.End(refusal);
                await RefuseAsync(refused.Consumer, refused.DeliveryTag, refusal).ConfigureAwait(false);
                Settled(refused);
            }
        }

        return false;
    }

    /// <summary>
    /// The downstream failed a unit's commit after it may have stored part of it: a queue refused some of its messages (they
    /// are gone) while the ledger may hold the unit's record, whose identities would make the upstream's redeliveries of
    /// those messages be dropped as duplicates, lost. So the unit must not count as forwarded: its identities never went
    /// into this session's window (that happens only after a commit succeeds), and a revocation appended to the ledger (on a
    /// new channel, before this session ends and so before the upstream redelivers) takes them out of the window the next
    /// session reads back. If that write fails too, the revocation is kept for the next session, which stores it before it
    /// consumes. Redelivered, the unit's messages are forwarded again: a queue that took one gets it twice, as with a nack.
    /// Runs in the unit loop, the only caller of the ledger.
    /// </summary>
    private async Task RevokeAsync(List<LedgerEntry> entries, UnitPartlyCommittedException partial)
    {
        var identities = new UInt128[entries.Count];
        for (var index = 0; index < identities.Length; index++)
        {
            identities[index] = entries[index].Identity;
        }

        _context.Revocations.Add(identities);
        _context.Counters.PartlyCommitted(identities.Length, _definition.Exchange.Name, _definition.Upstream.UpstreamName, partial);
        try
        {
            await _ledger!.PublishAndRecordAsync([], LedgerRecord.EncodeRevocation(identities), CancellationToken.None).ConfigureAwait(false);
            _context.Revocations.Stored([identities]);
        }
#pragma warning disable CA1031 // Any failure leaves the revocation pending: the next session stores it before it consumes.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>A queued forward's outcome is final: it is no longer in flight, and a consumer waiting for it goes on.</summary>
    private void Settled(in PendingForward pending)
    {
        Settled();
        pending.Settled?.TrySetResult();
    }

    /// <summary>One delivery with this identity is no longer on its way; call under the lock of <see cref="_uncommitted"/>.</summary>
    private void Uncommitted(UInt128 identity)
    {
        if (_uncommitted.TryGetValue(identity, out var count) && count > 1)
        {
            _uncommitted[identity] = count - 1;
        }
        else
        {
            _uncommitted.Remove(identity);
        }
    }

    /// <summary>
    /// Stops taking deliveries, lets the unit loop finish what it holds, and closes the ledger, both until
    /// <paramref name="deadline"/> (the shutdown's budget for the downstream). A unit still committing then (a downstream
    /// that blocks publishing answers its commit only when its alarm clears, or the client gives up on it) is left to
    /// finish in the background, and the ledger is closed after it, never during it: a ledger takes one call at a time,
    /// and its close would cut the unit short.
    /// </summary>
    private async Task ShutDownDeduplicationAsync(Task deadline)
    {
        if (_batches is null)
        {
            return;
        }

        _batches.Writer.TryComplete();
        var closing = await UnitLoopDoneAsync(deadline).ConfigureAwait(false) ? SafelyAsync(_ledger).AsTask() : CloseLedgerOnceUnitLoopDoneAsync();

        // A downstream that stopped answering (a frozen broker, a resource alarm) never confirms the close of the ledger's
        // channel: it gets what is left of the deadline, then closes in the background (what the ledger had written is confirmed).
        await WithinAsync(closing, deadline).ConfigureAwait(false);
    }

    /// <summary>Waits until the unit loop is done, or <paramref name="deadline"/>; returns whether it is done.</summary>
    /// <remarks>
    /// A forward that queued its delivery just before the channel completed may start a run after any one look at
    /// <see cref="_batchLoop"/>: it takes the flag first and stores the run's task only when the run first waits. So the
    /// latest run is not enough to wait for; the loop is done when nothing is queued and no run holds the flag (or a run
    /// failed, which keeps the flag for good). Until then this waits for whichever run is current, and yields while the
    /// one that holds the flag has not stored its task yet (a few instructions away, on the forward's thread). Only the
    /// shutdown pays for this; a forward does what it did.
    /// </remarks>
    private async Task<bool> UnitLoopDoneAsync(Task deadline)
    {
        var reader = _batches!.Reader;
        while (reader.Count > 0 || (Volatile.Read(ref _unitLoopRunning) != 0 && !_unitLoopFailed))
        {
            if (deadline.IsCompleted)
            {
                return false;
            }

            var run = Volatile.Read(ref _batchLoop);
            if (run.IsCompleted)
            {
                // A run holds the flag but has not stored its task yet (its synchronous part may block in the ledger): a short
                // real-time pause, not a yield, so that this does not spin a core meanwhile.
                await Task.Delay(TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
                continue;
            }

            await Task.WhenAny(run, deadline).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Closes the ledger once the unit loop is done, in the background of a shutdown that could not wait for it.</summary>
    private async Task CloseLedgerOnceUnitLoopDoneAsync()
    {
        await UnitLoopDoneAsync(Task.Delay(Timeout.InfiniteTimeSpan)).ConfigureAwait(false);
        await SafelyAsync(_ledger).ConfigureAwait(false);
    }

    private const string DuplicateReason = "duplicate";

    /// <summary>How often a link says that it drops fresh deliveries as duplicates by their message-id.</summary>
    private static readonly TimeSpan ReusedMessageIdLogInterval = TimeSpan.FromMinutes(1);

    private long _reusedMessageIds;
    private DateTimeOffset? _reusedMessageIdsLogged;

    /// <summary>
    /// A delivery the upstream did not flag as redelivered was dropped by its message-id. After a crash, repeats come
    /// flagged; a fresh one is a publisher that sent the same message again (which suppression is for) or one that reuses
    /// ids for different messages, which then lose every message but the first of an id. Only a log can tell an operator
    /// which: a warning at most once a minute, with the count since the last one. Runs on the delivery loop.
    /// </summary>
    private void NoteReusedMessageId(string messageId)
    {
        _reusedMessageIds++;
        var now = _context.Time.GetUtcNow();
        if (_reusedMessageIdsLogged is { } last && now - last < ReusedMessageIdLogInterval)
        {
            return;
        }

        Log.ReusedMessageIds(_context.Logger, _definition.Id, _definition.Exchange.Name, _definition.Upstream.UpstreamName, _reusedMessageIds, PrintableText.Escape(messageId));
        _reusedMessageIds = 0;
        _reusedMessageIdsLogged = now;
    }

    // A struct: the channel and the batch hold it by value, so queuing a forward allocates nothing of its own (Settled,
    // which a consumer past the in-flight window waits for, only then).
    private readonly record struct PendingForward(IMessageConsumer Consumer, ulong DeliveryTag, UInt128 Identity, LedgerMessage Message, ForwardSpans Spans, TaskCompletionSource? Settled = null);
}
