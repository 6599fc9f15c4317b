using Federation.Core.Diagnostics;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// A second look at the upstream queue of a link that a reload removed from this instance's configuration while another
/// live instance still claimed the link, so that the queue was kept for it (see <see cref="LinkReconciler"/>). When every
/// instance drops the link in one reload, the one that ran it may still have heard, up to a heartbeat ago, another
/// instance that had not reloaded yet claim the link: it keeps the queue, the other then drops a link it never ran
/// (nothing to clean up there), and nobody would ever delete the queue, which fills up with what the upstream exchange
/// still routes to it. So once the heartbeats have caught up, this looks again, and deletes the queue, its internal
/// exchanges and its sentinel as the stop would have, if no live instance claims or stands by for the link any more.
/// The same second look serves the old broker's queue of a link that a reload moved to another broker
/// (<see cref="ScheduleMoved"/>).
/// </summary>
/// <remarks>
/// The safety of the kept queue stays: nothing is deleted while another live instance's heartbeats claim the link, while
/// this instance has the link again, or while anybody else holds the link's lease (the sweep takes it for the deletion,
/// so no instance can start the link from the queue meanwhile); a sweep that cannot be sure (no downstream, no upstream)
/// keeps the queue. Sweeps run in the background and are cancelled when the links stop (<see cref="CancelAllAsync"/>).
/// </remarks>
internal sealed class RemovedLinkSweep
{
    /// <summary>How long the deletion may take once its wait is over (connect included): a sweep never hangs on.</summary>
    internal static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private readonly Lock _sync = new();
    private readonly Dictionary<Task, (string LinkId, LinkDefinition? Moved, CancellationTokenSource Cancel)> _running = [];
    private readonly LinkOwnership _ownership;
    private readonly DownstreamHandle _downstream;
    private readonly TransportResolver _transports;
    private readonly Func<string, bool> _hasLink;
    private readonly Func<LinkDefinition, bool> _runsFrom;
    private readonly Func<LinkDefinition, LinkDefinition, bool> _consumesQueueOf;
    private readonly Func<LinkDefinition, LinkDefinition?> _sameKindSuccessor;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    // The cluster probes the moved links' sweeps of the current pass share (BeginPass). Under _sync.
    private UpstreamCluster? _passProbes;

    /// <param name="ownership">Who else has the link, by the heartbeats.</param>
    /// <param name="downstream">The downstream session, where the link's lease is.</param>
    /// <param name="transports">Resolves the upstream URIs.</param>
    /// <param name="hasLink">Whether this instance runs a link with the id again (a later reload brought it back).</param>
    /// <param name="runsFrom">Whether this instance runs the link of a definition again from a broker that definition reaches, with the same kind of queue.</param>
    /// <param name="consumesQueueOf">Whether a link of the first definition consumes the upstream queue that one of the second left (same broker, same kind of queue).</param>
    /// <param name="sameKindSuccessor">The definition this instance runs a link under now, when it declares the same kind of upstream queue as the given one (any broker), else null.</param>
    /// <param name="logger">The supervisor's logger.</param>
    /// <param name="time">The clock the wait is measured on.</param>
    public RemovedLinkSweep(LinkOwnership ownership, DownstreamHandle downstream, TransportResolver transports, Func<string, bool> hasLink, Func<LinkDefinition, bool> runsFrom, Func<LinkDefinition, LinkDefinition, bool> consumesQueueOf, Func<LinkDefinition, LinkDefinition?> sameKindSuccessor, ILogger logger, TimeProvider time)
    {
        _sameKindSuccessor = sameKindSuccessor;
        _runsFrom = runsFrom;
        _consumesQueueOf = consumesQueueOf;
        _ownership = ownership;
        _downstream = downstream;
        _transports = transports;
        _hasLink = hasLink;
        _logger = logger;
        _time = time;
    }

    /// <summary>
    /// How long after the stop the sweep looks: an instance not heard for <see cref="OwnershipTimings.LiveFor"/> is no
    /// longer live, and every live one has sent a heartbeat since its own reload by then, one beat added for its delivery.
    /// </summary>
    public TimeSpan Delay => _ownership.Timings.LiveFor + _ownership.Timings.HeartbeatEvery;

    /// <summary>How many sweeps are scheduled or running (tests look). Any thread.</summary>
    internal int Pending
    {
        get
        {
            lock (_sync)
            {
                return _running.Count;
            }
        }
    }

    /// <summary>Looks again at the upstream queue of <paramref name="definition"/> after <see cref="Delay"/>. Any thread.</summary>
    /// <param name="definition">The removed link, as it ran here.</param>
    /// <param name="keptFor">The instances its queue was kept for, for the log.</param>
    public void Schedule(LinkDefinition definition, IReadOnlyList<string> keptFor) => Schedule(definition, keptFor, moved: false);

    /// <summary>
    /// Looks again, after <see cref="Delay"/>, at the upstream queue that <paramref name="definition"/> used on a broker a
    /// reload moved the link away from (the link runs on here, from the new broker). It is deleted once no live instance has
    /// the link from that broker any more (by the brokers their heartbeats say their upstreams reach; see
    /// <see cref="LinkOwnership.OthersRunningFrom"/>) and this instance does not run it from there again. No lease is taken:
    /// the lease is the link's, whatever its broker, and held by whoever runs it from the new one; only an instance that
    /// reaches the old broker could consume the old queue, and there is none. Any thread.
    /// </summary>
    /// <param name="definition">The link's definition before the reload.</param>
    /// <param name="keptFor">The instances its queue was kept for, for the log (none when this instance never ran it).</param>
    public void ScheduleMoved(LinkDefinition definition, IReadOnlyList<string> keptFor) => Schedule(definition, keptFor, moved: true);

    /// <summary>
    /// Starts a pass (a reconciliation): the second looks at moved links' queues that it schedules probe each upstream
    /// cluster once between them (<see cref="UpstreamCluster"/>) when their waits end. Any thread.
    /// </summary>
    /// <param name="stopping">
    /// The engine's stop, which cancels those probes: one is shared by the sweeps of its pass, so no single sweep's
    /// cancellation may end it (each sweep stops waiting for it on its own).
    /// </param>
    public void BeginPass(CancellationToken stopping)
    {
        var probes = new UpstreamCluster(_transports, _logger, _time, "the engine stops", stopping);
        lock (_sync)
        {
            _passProbes = probes;
        }
    }

    private void Schedule(LinkDefinition definition, IReadOnlyList<string> keptFor, bool moved)
    {
        if (definition.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never)
        {
            return;
        }

        var cancel = new CancellationTokenSource();
        lock (_sync)
        {
            var probes = moved ? _passProbes ??= new UpstreamCluster(_transports, _logger, _time, "the engine stops", CancellationToken.None) : null;
            var task = SweepAsync(definition, keptFor, probes, cancel.Token);
            _running.Add(task, (definition.Id, moved ? definition : null, cancel));
            _ = task.ContinueWith(Forget, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private void Forget(Task done)
    {
        lock (_sync)
        {
            // Not when a cancellation took it over: that one cancels, waits for it, and disposes its source.
            if (_running.Remove(done, out var sweep))
            {
                sweep.Cancel.Dispose();
            }
        }
    }

    /// <summary>Cancels every sweep not done yet (the queues they were to look at stay) and waits for them to end.</summary>
    public Task CancelAllAsync() => CancelAsync((_, _) => true);

    /// <summary>
    /// Cancels the sweep of the link of <paramref name="starting"/>, if one is pending, and waits for it to end: the link is
    /// about to run here again, from the queue the sweep was to look at. Awaited before the link starts, so that no sweep
    /// deletes the queue under it (taking its lease on the same downstream connection would not keep it out: the connection
    /// holds it). The sweep of a queue a reload moved the link away from (to another broker, or another kind of queue on the
    /// same one) goes on unless the link returns to that queue.
    /// </summary>
    public Task CancelAsync(LinkDefinition starting) => CancelAsync((id, moved) =>
        id == starting.Id && (moved is null || _consumesQueueOf(starting, moved)));

    private async Task CancelAsync(Func<string, LinkDefinition?, bool> which)
    {
        KeyValuePair<Task, (string LinkId, LinkDefinition? Moved, CancellationTokenSource Cancel)>[] cancelled;
        lock (_sync)
        {
            cancelled = [.. _running.Where(r => which(r.Value.LinkId, r.Value.Moved))];
            foreach (var sweep in cancelled)
            {
                _running.Remove(sweep.Key);
            }
        }

        foreach (var sweep in cancelled)
        {
            await sweep.Value.Cancel.CancelAsync().ConfigureAwait(false);
        }

        // A sweep never throws (it logs), so this only waits.
        await Task.WhenAll(cancelled.Select(r => r.Key)).ConfigureAwait(false);
        foreach (var sweep in cancelled)
        {
            sweep.Value.Cancel.Dispose();
        }
    }

    /// <param name="definition">The link whose queue is looked at.</param>
    /// <param name="keptFor">The instances it was kept for, for the log.</param>
    /// <param name="probes">For a link a reload moved to another broker, the cluster probes of its pass; null for a removed link.</param>
    /// <param name="cancellationToken">This sweep's cancellation.</param>
    private async Task SweepAsync(LinkDefinition definition, IReadOnlyList<string> keptFor, UpstreamCluster? probes, CancellationToken cancellationToken)
    {
        var moved = probes is not null;
        try
        {
            await Task.Delay(Delay, _time, cancellationToken).ConfigureAwait(false);
            using var limit = new CancellationTokenSource(Limit, _time);
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
            if (probes is not null)
            {
                await DeleteIfNobodyHasItFromThereAsync(definition, keptFor, probes, bounded.Token).ConfigureAwait(false);
            }
            else
            {
                await DeleteIfNobodyHasItAsync(definition, keptFor, bounded.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The links stopped (a stop, another downstream): the queue stays, as the stop that cancelled this decided.
        }
#pragma warning disable CA1031 // A background sweep has nobody to throw to: it logs, and the queue stays.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.RemovedLinkSweepFailed(
                _logger,
                definition.Id,
                moved ? $"moved by a reload away from upstream {UriRedaction.Redact(definition.Upstream.Uris[0])}" : "removed from this instance's configuration",
                FailureEpisode.Describe(ex));
        }
    }

    private async Task DeleteIfNobodyHasItAsync(LinkDefinition definition, IReadOnlyList<string> keptFor, CancellationToken cancellationToken)
    {
        if (StillWanted(definition) is { } why)
        {
            Log.RemovedLinkQueueStillKept(_logger, definition.Id, why);
            return;
        }

        if (_downstream.Current is not { IsCompletedSuccessfully: true } current
            || current.Result is not { } session
            || session.Connection.Completion.IsCompleted
            || session.ClusterName != definition.ClusterName
            || session.VirtualHost != definition.VirtualHost)
        {
            // Without the downstream (or on another one) the lease cannot be taken: nothing guarantees nobody runs the link.
            Log.RemovedLinkQueueStillKept(_logger, definition.Id, "the downstream where its lease lives is not connected");
            return;
        }

        IBrokerLease? lease = null;
        if (session.Connection.Leases is { } leases)
        {
            var attempt = await leases.TryAcquireAsync(new LeaseRequest(LinkLease.NameFor(definition), _ownership.Instance), cancellationToken).ConfigureAwait(false);
            if (attempt.Lease is null)
            {
                Log.RemovedLinkQueueStillKept(_logger, definition.Id, $"instance '{attempt.Holder ?? "(unknown)"}' holds its lease");
                return;
            }

            lease = attempt.Lease;
        }

        try
        {
            // Again, now that nobody can start the link from the queue: a heartbeat or a reload may have come meanwhile.
            if (StillWanted(definition) is { } stillWanted)
            {
                Log.RemovedLinkQueueStillKept(_logger, definition.Id, stillWanted);
                return;
            }

            await DeleteUpstreamObjectsAsync(definition, keptFor, moved: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (lease is not null)
            {
                await lease.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The old broker's queue of a link a reload moved away from it: deleted when nobody has the link from there any more.</summary>
    private async Task DeleteIfNobodyHasItFromThereAsync(LinkDefinition definition, IReadOnlyList<string> keptFor, UpstreamCluster probes, CancellationToken cancellationToken)
    {
        if (_runsFrom(definition))
        {
            Log.MovedLinkQueueStillKept(_logger, definition.Id, "this instance runs the link from that upstream again");
            return;
        }

        var others = _ownership.OthersRunningFrom(definition, _transports.CoarseUpstreamQueueKind);
        if (others.Count > 0)
        {
            Log.MovedLinkQueueStillKept(_logger, definition.Id, $"instance(s) {string.Join(", ", others)} still have the link from that upstream");
            return;
        }

        // Other URIs may reach the same cluster (another node, a host name for an address): then the old queue is the one
        // this instance's link consumes now.
        if (_sameKindSuccessor(definition) is { } successor)
        {
            (string ClusterName, string VirtualHost)? shared;
            try
            {
                shared = await probes.SharedAsync(definition, successor, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The engine stops, which cancelled the probe before it cancels this sweep: no evidence of a move.
                Log.MovedLinkQueueStillKept(_logger, definition.Id, "the probe of its upstream cluster was cancelled (the engine stops)");
                return;
            }

            if (shared is { } same)
            {
                Log.MovedLinkQueueStillKept(_logger, definition.Id, $"this instance runs the link from the same upstream cluster ('{PrintableText.Escape(same.ClusterName)}', vhost '{PrintableText.Escape(same.VirtualHost)}') under other URIs: it is the queue the link consumes");
                return;
            }
        }

        await DeleteUpstreamObjectsAsync(definition, keptFor, moved: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Why the queue must stay after all, or null when nobody has the link any more.</summary>
    private string? StillWanted(LinkDefinition definition)
    {
        if (_hasLink(definition.Id))
        {
            return "this instance has the link again";
        }

        var others = _ownership.OthersRunning(definition.Id);
        return others.Count > 0 ? $"instance(s) {string.Join(", ", others)} still run, wait or stand by for it" : null;
    }

    private async Task DeleteUpstreamObjectsAsync(LinkDefinition definition, IReadOnlyList<string> keptFor, bool moved, CancellationToken cancellationToken)
    {
        var why = moved ? "a reload moved the link to another upstream or kind of upstream queue and no live instance has it from this one any more" : "no live instance has the link any more";
        var (queue, discarded) = await UpstreamObjects.DeleteAsync(definition, _transports, _time, _logger, why, cancellationToken).ConfigureAwait(false);
        if (moved)
        {
            Log.MovedLinkQueueDeleted(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, UriRedaction.Redact(definition.Upstream.Uris[0]));
        }
        else
        {
            Log.RemovedLinkQueueDeleted(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, string.Join(", ", keptFor));
        }

        if (discarded != 0)
        {
            Log.BufferedMessagesDiscarded(_logger, definition.Id, queue, discarded?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of", why);
        }
    }
}
