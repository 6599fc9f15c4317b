using Federation.Core.Diagnostics;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The upstream queues of links that a reload changing the downstream's identity (another cluster name or virtual host)
/// stopped: make before break. The new links have other ids and queue names, so the old queue would be left behind; but
/// deleted at the stop, as it was, it took with it what it buffered and, since the new link's queue was bound only once the
/// engine had connected to the new downstream, what the upstream published meanwhile reached no queue and was not counted
/// (a black-box run lost 50 messages and counted 10). So the old queue stays bound, buffering, until the link of the new
/// downstream that takes its place (same downstream exchange and upstream exchange, on the same upstream broker with the
/// same kind of queue) has declared and bound its own: from then on the upstream routes to both. Then, when the new
/// downstream is the same broker and vhost (only the name changed) and the new link runs here, what the old queue holds is
/// exactly what the new link forwards: the new link forwards it (<see cref="ExchangeLink.DrainRetiredQueueAsync"/>) and deletes it, so nothing is
/// lost (some messages arrive twice: those routed to both queues before the old one was unbound, and those in flight when
/// the old link stopped). A queue that is a cursor over a log (a JetStream durable consumer on the exchange's stream) cannot
/// be counted, so not forwarded until empty: the new link's queue is declared as taking it over
/// (<see cref="QueueSpec.TakesOver"/>) and starts where it stopped, and it is only deleted. On another broker or vhost, the
/// old queue is deleted then, what it held discarded and counted (events 2020 and 1028), which now includes what was
/// published until the new queue was bound.
/// </summary>
/// <remarks>
/// A queue waits here while the new downstream cannot be reached (its link cannot start), for as long as that lasts; it is
/// deleted at once when no link of the new downstream takes its place, or when the engine stops (a clean stop). A later
/// reload that brings the old identity back gives the queue back to its link (<see cref="ReclaimAsync"/>). On another
/// broker or vhost, only queues the stopped link held (its lease, or a downstream without leases) come here; one kept for
/// another instance of the old federation (event 2019) does not. The queues of links that the downstream's new cluster
/// name retired without a reload (event 2027, <see cref="AddRenamed"/>) come here too, whoever held them, and so do those
/// of links a reload renamed on the same broker and vhost that this instance did not hold (<see cref="AddRenamedByReload"/>):
/// they follow their own rule (who retires them, and why that is safe with several instances:
/// <see cref="ForwardRenamedAsync"/>), and are never deleted at an engine stop, since another instance may consume them.
/// </remarks>
internal sealed class RetiredUpstreamQueues
{
    private readonly Lock _sync = new();
    private readonly List<Retirement> _waiting = [];
    private readonly Dictionary<Retirement, Task> _running = [];
    private readonly TransportResolver _transports;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LinkOwnership? _ownership;

    /// <param name="transports">Resolves the upstream URIs of the old queues.</param>
    /// <param name="logger">The supervisor's logger.</param>
    /// <param name="time">The clock of the waits.</param>
    /// <param name="ownership">The other instances' heartbeats, when links are spread: an old queue that the downstream's new name retired waits while another instance still has the old link.</param>
    public RetiredUpstreamQueues(TransportResolver transports, ILogger logger, TimeProvider time, LinkOwnership? ownership = null)
    {
        _transports = transports;
        _logger = logger;
        _time = time;
        _ownership = ownership;
    }

    /// <summary>Why the old queue is deleted or what its deletion discards, for events 2020 and 1028.</summary>
    internal const string Why = "federates another downstream: another cluster name or virtual host, so the new links have other ids and upstream queues";

    /// <summary>Why the old queue of a link that the downstream's new cluster name retired goes (events 2020 and 1028).</summary>
    internal const string WhyRenamed = "ran under the downstream's previous cluster name (event 2027): the links under the new name have other ids and upstream queues";

    /// <summary>Keeps the upstream queue of <paramref name="old"/>, stopped for a new downstream, until its successor has bound its own.</summary>
    /// <param name="old">The stopped link's definition.</param>
    /// <param name="sameDownstream">Whether the new downstream is the same broker and vhost: what the queue holds is then forwarded, not discarded.</param>
    public void Add(LinkDefinition old, bool sameDownstream)
    {
        Log.LinkRetiredKeepingQueue(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, sameDownstream
            ? "that link forwards what the old queue holds (the same downstream broker and vhost) and deletes it; unless another instance runs that link, whose queue received the same messages: then the old queue is deleted, discarding what it holds (events 2020 and 1028)"
            : "it is deleted, discarding what it holds (events 2020 and 1028)");
        lock (_sync)
        {
            _waiting.Add(new Retirement(old, sameDownstream));
        }
    }

    /// <summary>
    /// Keeps the upstream queue of <paramref name="old"/>, which stopped because the downstream reported a new cluster name
    /// on a reconnect with the same configuration (event 2027), until the link under the new name that takes its place has
    /// bound its own: then the instance that runs that link forwards the old queue and deletes it
    /// (<see cref="ForwardRenamedAsync"/>). Unlike <see cref="Add"/>, whatever this instance held: after the connection
    /// drop that brought the new name, no instance holds the old link's lease any more.
    /// </summary>
    /// <param name="old">The stopped link's definition.</param>
    /// <param name="clusterName">The downstream's new cluster name.</param>
    public void AddRenamed(LinkDefinition old, string clusterName)
    {
        Log.LinkRenamedKeepingQueue(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, clusterName);
        lock (_sync)
        {
            _waiting.Add(new Retirement(old, sameDownstream: true, renamed: true));
        }
    }

    /// <summary>
    /// Keeps the upstream queue of <paramref name="old"/>, stopped by a reload that renamed the downstream on the same broker
    /// and vhost, which this instance did not hold at the stop: another instance of the federation it leaves still had the
    /// link (event 2019), or this one only waited for it. That instance may be renamed by the same change of configuration
    /// moments later, and then keep the queue for this one, or never have held it either: so the queue is retired as a
    /// downstream that renames itself retires its old queues (<see cref="ForwardRenamedAsync"/>). The instance that runs the
    /// link under the new name forwards it and deletes it, once no live instance has the old link any more by its
    /// heartbeats and while it holds the old link's lease, which any instance still consuming the queue holds. Until 6 Dec
    /// 2026 such a queue stayed for good, filling, when every instance was renamed within a few seconds.
    /// </summary>
    /// <param name="old">The stopped link's definition.</param>
    public void AddRenamedByReload(LinkDefinition old)
    {
        Log.LinkRetiredKeepingQueue(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, RenamedByReloadThen);
        lock (_sync)
        {
            _waiting.Add(new Retirement(old, sameDownstream: true, renamed: true));
        }
    }

    /// <summary>What event 2032 says becomes of a queue <see cref="AddRenamedByReload"/> keeps.</summary>
    internal const string RenamedByReloadThen = "the instance that runs that link (this one, or another instance renamed alike) forwards what the old queue holds (the same downstream broker and vhost) and deletes it, once no live instance has this link any more (by the heartbeats) and while it holds this link's lease, so that nobody consumes the old queue meanwhile";

    /// <summary>
    /// A link that declares the old queue of a retired link again (a later reload brought the old identity back): the queue is
    /// its own again, with what it buffered. A deletion already under way is waited for.
    /// </summary>
    /// <param name="takesOver">Whether a link of the given retired definition's id takes its queue over.</param>
    public async Task ReclaimAsync(Func<LinkDefinition, bool> takesOver)
    {
        List<(Retirement Retirement, Task Task)> reclaimed;
        lock (_sync)
        {
            _waiting.RemoveAll(r => takesOver(r.Old));
            reclaimed = [.. _running.Where(r => takesOver(r.Key.Old)).Select(r => (r.Key, r.Value))];
            foreach (var (retirement, _) in reclaimed)
            {
                retirement.Reclaimed = true;
                retirement.Abandoned = true;
            }
        }

        foreach (var (retirement, _) in reclaimed)
        {
            await retirement.Cancel.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(reclaimed.Select(r => r.Task)).ConfigureAwait(false);
    }

    /// <summary>
    /// Once the links of the new downstream exist, before they start: each waiting queue waits for its successor's queue to
    /// be bound (or is deleted at once when it has none), in the background. On the same downstream broker and vhost the
    /// successor is told whose queue it takes over (<see cref="ExchangeLink.TakeOver"/>) before its first run declares its
    /// own, so that a transport that can start the new queue where the old one stopped does (a JetStream durable consumer:
    /// at the old one's acknowledgement floor); when the transport says it did, the forwarding only deletes the old queue.
    /// </summary>
    /// <param name="successorOf">The running link that takes the place of a retired one, or null.</param>
    public void Begin(Func<LinkDefinition, ExchangeLink?> successorOf)
    {
        lock (_sync)
        {
            foreach (var retirement in _waiting)
            {
                var successor = successorOf(retirement.Old);
                retirement.Successor = successor;
                if (successor is not null && retirement.SameDownstream)
                {
                    // Its queue may start where the old one stopped (a JetStream durable consumer): see ExchangeLink.TakesOver.
                    successor.TakeOver(retirement.Old);
                }

                _running[retirement] = Task.Run(() => RetireAsync(retirement, successor));
            }

            _waiting.Clear();
        }
    }

    /// <summary>
    /// Before a reconciliation hands the waiting queues to the links it starts (<see cref="Begin"/>): waits until each queue
    /// whose successor has stopped (a reload replaced or removed it) is back with the waiting ones. A forwarding cut short
    /// hands its queue back only once it has closed its session, which may take a drain timeout; handed back after
    /// <see cref="Begin"/>, the queue waited, holding what it buffered, for a later reconciliation that might never come.
    /// </summary>
    public Task SettleAsync()
    {
        lock (_sync)
        {
            return Task.WhenAll(_running.Keys.Where(r => r.Successor is { Stopping: true }).Select(r => r.Forwarded.Task).ToList());
        }
    }

    /// <summary>
    /// At an engine stop: no successor is waited for any more, a forwarding is cut short, and every queue still here is
    /// deleted as a clean stop deletes it, until <paramref name="deadline"/>; what does not finish by then goes on in the background.
    /// </summary>
    public async Task StopAsync(StopDeadline deadline)
    {
        List<Retirement> abandoned;
        List<Task> running;
        lock (_sync)
        {
            foreach (var retirement in _waiting)
            {
                retirement.Abandoned = true;
                _running[retirement] = Task.Run(() => RetireAsync(retirement, null));
            }

            _waiting.Clear();
            abandoned = [.. _running.Keys];
            foreach (var retirement in abandoned)
            {
                retirement.Abandoned = true;
            }

            running = [.. _running.Values];
        }

        foreach (var retirement in abandoned)
        {
            await retirement.Cancel.CancelAsync().ConfigureAwait(false);
        }

        await deadline.WaitAsync(Task.WhenAll(running)).ConfigureAwait(false);
    }

    private async Task RetireAsync(Retirement retirement, ExchangeLink? successor)
    {
        try
        {
            var done = retirement.Renamed
                ? await ForwardRenamedAsync(retirement, successor).ConfigureAwait(false)
                : await ForwardAsync(retirement, successor).ConfigureAwait(false);
            retirement.Forwarded.TrySetResult();
            if (done || retirement.Reclaimed)
            {
                return;
            }

            if (retirement.Renamed)
            {
                // Only the instance that holds the old link's lease may delete its queue (ForwardRenamedAsync): at an engine
                // stop, or without a link under the new name to forward it, another instance may still consume it.
                var old = retirement.Old;
                Log.LinkStopped(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, successor is null
                    ? "kept (no link under the downstream's new cluster name federates its exchange from its upstream exchange)"
                    : "kept (the engine stopped, or the link took it back, before it was forwarded)");
                return;
            }

            await DeleteAsync(retirement.Old).ConfigureAwait(false);
        }
        finally
        {
            retirement.Forwarded.TrySetResult();

            // Its token source is not disposed: a stop or a reclaim may still cancel it (it holds no timer).
            lock (_sync)
            {
                _running.Remove(retirement);
            }
        }
    }

    /// <summary>
    /// Waits for <paramref name="successor"/> to bind its queue, then, on the same downstream, has it forward the old queue.
    /// Returns whether the old queue is done with (forwarded and deleted, or back with the waiting ones because the successor
    /// stopped first: the next reconciliation finds the link that replaces it, if any).
    /// </summary>
    private async Task<bool> ForwardAsync(Retirement retirement, ExchangeLink? successor)
    {
        var token = retirement.Cancel.Token;
        if (successor is null)
        {
            return false;
        }

        bool bound;
        try
        {
            bound = await successor.Bound.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return false;
        }

        if (!bound || successor.Stopping)
        {
            return WaitAgain(retirement);
        }

        // Only a successor that runs here forwards the old queue: one that waits for another instance, which held the new
        // link's lease first, waits because that instance's queue has received what this one's did meanwhile (a typo in
        // the cluster name fixed on one host: the other federation's link ran all along); forwarded, it would arrive twice.
        if (!retirement.SameDownstream || !successor.BoundHere)
        {
            return false;
        }

        var old = retirement.Old;
        var successorId = successor.Definition.Id;
        while (true)
        {
            try
            {
                if (await successor.DrainRetiredQueueAsync(old, Why, token).ConfigureAwait(false) is not { } outcome)
                {
                    // The upstream cannot count a queue's messages, so cannot tell when it is empty, and the link's own queue
                    // did not take it over as it was created (a JetStream consumer at the old one's acknowledgement floor).
                    return false;
                }

                Log.RetiredQueueForwarded(_logger, successorId, old.Id, outcome);
                return true;
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception) when (successor.Stopping)
            {
                return WaitAgain(retirement);
            }
#pragma warning disable CA1031 // Any failure to forward is logged and tried again: the queue keeps what it holds meanwhile.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                var delay = old.Upstream.ReconnectDelay;
                Log.RetiredQueueForwardFailed(_logger, successorId, old.Id, UriRedaction.RedactText(ex.Message), delay);
                if (await PauseAsync(retirement, successor, delay, token).ConfigureAwait(false) is { } done)
                {
                    return done;
                }
            }
        }
    }

    /// <summary>
    /// The old queue of a link that the downstream's new cluster name retired (event 2027), which any instance of the
    /// federation may still consume: the connection drop that brought the new name took the old link's lease from whoever
    /// held it, instances that have not reconnected since still run under the old name, and an instance may have started
    /// after the rename. The same for one a reload renamed on the same broker and vhost that this instance did not hold
    /// (<see cref="AddRenamedByReload"/>): instances not reloaded yet still run under the old name. Who retires it, and when:
    /// <list type="number">
    /// <item>The instance that runs the link under the new name that takes its place (<see cref="ExchangeLink.RunsHere"/>:
    /// it holds that link's lease, or the downstream has none), once that link has bound its queue (make before break: from
    /// then on the upstream routes every message to the new queue as well). Every instance that saw the rename keeps the
    /// old queue in mind while its successor link exists there; one whose successor runs on another instance waits, in case
    /// the successor's lease comes to it.</item>
    /// <item>Not while another live instance has the old link by its heartbeats (runs, waits or stands by for it: it is
    /// still under the old name, and consumes or may consume the queue), nor before this instance has heard the others for
    /// <see cref="OwnershipTimings.LiveFor"/> since it began waiting (its roster went stale while the downstream was away).
    /// Without <c>SpreadLinks</c> there are no heartbeats, and the next rule alone keeps it safe.</item>
    /// <item>Only while this instance holds the old link's lease on the downstream (<see cref="RetiredLinkLease"/>) for the
    /// whole forwarding and deletion: an instance under the old name consumes the queue only while it holds that lease, so
    /// none does meanwhile, and two instances never retire the same queue at once. A lease refused means an instance under
    /// the old name runs the link: this one asks again later.</item>
    /// </list>
    /// So no message is lost: the old queue is deleted only once the new one is bound and what the old one holds has been
    /// forwarded (or, for an upstream that cannot count a queue's messages, taken over by the new queue as it was created,
    /// or else counted as discarded, events 2020 and 1028), and
    /// never while another instance consumes it. An instance that finds the queue gone (another retired it first) deletes
    /// nothing more and says nothing. Returns whether the old queue is done with (or back with the waiting ones: the
    /// successor stopped); false leaves it where it is.
    /// </summary>
    private async Task<bool> ForwardRenamedAsync(Retirement retirement, ExchangeLink? successor)
    {
        var token = retirement.Cancel.Token;
        if (successor is null)
        {
            return false;
        }

        try
        {
            if (!await successor.Bound.WaitAsync(token).ConfigureAwait(false) || successor.Stopping)
            {
                return WaitAgain(retirement);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return false;
        }

        var old = retirement.Old;
        var successorId = successor.Definition.Id;
        var heardSince = _time.GetUtcNow();
        var polls = new ReconnectBackoff(ReconnectBackoffMode.Exponential, LinkLease.FirstPoll, LinkLease.LongestPoll);
        polls.NextDelay(); // The schedule's first step is "at once".
        string? toldWaiting = null;
        while (true)
        {
            var delay = polls.NextDelay();
            if (WhyNotRetire(old, successor, heardSince) is { } notYet)
            {
                if (notYet.Tell && toldWaiting != notYet.Reason)
                {
                    toldWaiting = notYet.Reason;
                    Log.RenamedQueueWaiting(_logger, successorId, old.Id, notYet.Reason);
                }
            }
            else
            {
                try
                {
                    var lease = await successor.TakeLeaseOfAsync(old, token).ConfigureAwait(false);
                    await using (lease.ConfigureAwait(false))
                    {
                        if (lease.Held)
                        {
                            using var guarded = CancellationTokenSource.CreateLinkedTokenSource(token, lease.Lost);
                            var outcome = await successor.DrainRetiredQueueAsync(old, WhyRenamed, guarded.Token, lease.Downstream).ConfigureAwait(false);
                            if (outcome is not null)
                            {
                                Log.RetiredQueueForwarded(_logger, successorId, old.Id, outcome);
                            }
                            else
                            {
                                await DeleteRenamedAsync(old, guarded.Token).ConfigureAwait(false);
                            }

                            // The old link's ledger goes with its queue, under its lease: the old link stopped without it
                            // (the rename's connection drop took it), so its stop could not drop the ledger, which stayed
                            // on the downstream for good.
                            if (outcome is not null || old.Upstream.ResourceCleanupMode != ResourceCleanupMode.Never)
                            {
                                await DropLedgerAsync(lease.Downstream, old, guarded.Token).ConfigureAwait(false);
                            }

                            return true;
                        }

                        var reason = $"lease '{LinkLease.NameFor(old)}' is held by {(lease.Holder is { } holder ? $"instance '{PrintableText.Escape(holder)}'" : "another instance")}, which still runs the old link from that queue";
                        if (toldWaiting != reason)
                        {
                            toldWaiting = reason;
                            Log.RenamedQueueWaiting(_logger, successorId, old.Id, reason);
                        }
                    }
                }
                catch (Exception) when (token.IsCancellationRequested)
                {
                    return false;
                }
                catch (Exception) when (successor.Stopping)
                {
                    return WaitAgain(retirement);
                }
#pragma warning disable CA1031 // Any failure to forward is logged and tried again: the queue keeps what it holds meanwhile.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    delay = old.Upstream.ReconnectDelay;
                    Log.RetiredQueueForwardFailed(_logger, successorId, old.Id, UriRedaction.RedactText(ex.Message), delay);
                }
            }

            if (await PauseAsync(retirement, successor, delay, token).ConfigureAwait(false) is { } done)
            {
                return done;
            }
        }
    }

    /// <summary>
    /// Waits <paramref name="delay"/> before the next attempt to forward the old queue of <paramref name="retirement"/>, cut
    /// short when <paramref name="successor"/> stops, so that its queue is back with the waiting ones before the
    /// reconciliation that stopped it hands them out again (SettleAsync). Returns null to try again, or what the forwarding
    /// returns now: false once <paramref name="token"/> (the retirement's) is cancelled, <see cref="WaitAgain"/> once the
    /// successor stops.
    /// </summary>
    private async Task<bool?> PauseAsync(Retirement retirement, ExchangeLink successor, TimeSpan delay, CancellationToken token)
    {
        try
        {
            await Task.WhenAny(Task.Delay(delay, _time, token), successor.StopRequested).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return false;
        }

        if (token.IsCancellationRequested)
        {
            return false;
        }

        // A stopped successor never runs here again, and its stop completes the wait above at once from now on.
        if (successor.Stopping)
        {
            return WaitAgain(retirement);
        }

        return null;
    }

    /// <summary>
    /// Why this instance may not retire the old queue of <paramref name="old"/> yet (see <see cref="ForwardRenamedAsync"/>),
    /// and whether that is worth telling (another instance still has the old link); null when it may try the old lease.
    /// </summary>
    private (string Reason, bool Tell)? WhyNotRetire(LinkDefinition old, ExchangeLink successor, DateTimeOffset heardSince)
    {
        if (!successor.RunsHere)
        {
            return ("the link under the new name does not run on this instance", false);
        }

        if (_ownership is null)
        {
            return null;
        }

        if (_time.GetUtcNow() - heardSince < _ownership.Timings.LiveFor)
        {
            return ("the other instances' heartbeats are not heard long enough yet", false);
        }

        return _ownership.OthersRunning(old.Id) is { Count: > 0 } others
            ? ($"instance(s) {string.Join(", ", others)} still have the old link (they are still under the downstream's previous cluster name) and may consume that queue", true)
            : null;
    }

    /// <summary>The successor stopped before it was done (another reload replaced it): the next reconciliation looks again.</summary>
    private bool WaitAgain(Retirement retirement)
    {
        lock (_sync)
        {
            if (retirement.Abandoned)
            {
                return false;
            }

            _waiting.Add(new Retirement(retirement.Old, retirement.SameDownstream, retirement.Renamed));
            return true;
        }
    }

    /// <summary>
    /// Deletes the old queue of a link the downstream's new name retired, which its successor could not forward (the
    /// upstream cannot count a queue's messages, or the queue is gone: another instance retired it first), under the old
    /// link's lease. Warned of (events 2020 and 1028) unless the deletion says it discarded nothing.
    /// </summary>
    private async Task DeleteRenamedAsync(LinkDefinition old, CancellationToken cancellationToken)
    {
        if (old.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never)
        {
            return;
        }

        using var limit = new CancellationTokenSource(RemovedLinkSweep.Limit, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        var (queue, discarded) = await UpstreamObjects.DeleteAsync(old, _transports, _time, _logger, WhyRenamed, either.Token).ConfigureAwait(false);
        if (discarded != 0)
        {
            Log.LinkReplacedDiscarding(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, WhyRenamed);
            Log.BufferedMessagesDiscarded(_logger, old.Id, queue, discarded?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of", WhyRenamed);
        }

        Log.LinkStopped(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, CleanupOutcome.Deleted);
    }

    /// <summary>Deletes the old link's ledger, when it kept one; a failure is logged (event 1031), never thrown.</summary>
    private async Task DropLedgerAsync(DownstreamSession downstream, LinkDefinition old, CancellationToken cancellationToken)
    {
        if (Deduplication.LedgerDeletion.KeepsOne(old))
        {
            await Deduplication.LedgerDeletion.DeleteAsync(downstream.Connection, old, _logger, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes the old queue, its internal exchanges and sentinel, counting what that discards (events 2020 and 1028).</summary>
    private async Task DeleteAsync(LinkDefinition old)
    {
        if (old.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never)
        {
            return;
        }

        Log.LinkReplacedDiscarding(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, Why);
        try
        {
            using var limit = new CancellationTokenSource(RemovedLinkSweep.Limit, _time);
            var (queue, discarded) = await UpstreamObjects.DeleteAsync(old, _transports, _time, _logger, Why, limit.Token).ConfigureAwait(false);
            Log.BufferedMessagesDiscarded(_logger, old.Id, queue, discarded?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of", Why);
            Log.LinkStopped(_logger, old.Id, old.Exchange.Name, old.Upstream.UpstreamName, CleanupOutcome.Deleted);
        }
#pragma warning disable CA1031 // A deletion that fails leaves the objects where they are, as a stop's failed cleanup does: logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.CleanupFailed(_logger, ex, old.Id);
        }
    }

    /// <summary>One retired link's queue; cancelled when the engine stops or a link takes the queue back.</summary>
    private sealed class Retirement(LinkDefinition old, bool sameDownstream, bool renamed = false)
    {
        public LinkDefinition Old { get; } = old;

        public bool SameDownstream { get; } = sameDownstream;

        // Retired by the downstream's new cluster name (event 2027), or by a reload that renamed it on the same broker and
        // vhost while this instance did not hold the link: see ForwardRenamedAsync.
        public bool Renamed { get; } = renamed;

        public CancellationTokenSource Cancel { get; } = new();

        // The link it waits for or that forwards it, once handed out (Begin). Set under the lock.
        public ExchangeLink? Successor { get; set; }

        // Completed once it no longer waits for or forwards through its successor (deleted next, or done, or back with the
        // waiting ones).
        public TaskCompletionSource Forwarded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // Whether a link took the queue back: it must not be deleted.
        public volatile bool Reclaimed;

        // Whether the engine stops or a link took the queue back: no successor is waited for again. Set under the lock.
        public volatile bool Abandoned;
    }
}
