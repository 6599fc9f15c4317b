using System.Collections.Concurrent;
using Federation.Core.Diagnostics;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The running links, kept equal to the desired ones: the definitions resolved against the downstream exchanges. A link
/// whose definition changed in how it moves messages is stopped before its replacement starts, which takes its upstream
/// queue over (see <see cref="StopReplaced"/>); one whose definition changed otherwise (the policy's name, say) takes the new one over as it runs; the others
/// go on untouched. A replacement (same id) goes on counting the drops of the link it replaces: the status promises what a
/// link dropped since the host started, and a reload that changes, say, the prefetch must not wipe an operator's record of
/// losses (the metrics, keyed by exchange and upstream, run on too). A link a reload removes takes its counts with it.
/// </summary>
/// <remarks>Changes run on the supervisor's loop; the statuses and descriptions may be read from any thread.</remarks>
internal sealed class LinkReconciler
{
    private readonly ConcurrentDictionary<string, ExchangeLink> _links = new(StringComparer.Ordinal);
    private readonly TransportResolver _transports;
    private readonly UnusedPolicyWarnings _unusedPolicies;
    private readonly DownstreamHandle _downstream;
    private readonly LinkOwnership? _ownership;
    private readonly LinkGenerations _generations;
    private readonly FederationTelemetry _telemetry;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RemovedLinkSweep? _sweep;
    private readonly RetiredUpstreamQueues _retired;

    // The drop counts of links stopped for a new connection to the same downstream (StopAllForReconnectAsync), by id: the
    // links that start on it have the same ids and go on counting them. Taken by the next reconciliation. Loop only.
    private readonly Dictionary<string, LinkDrops> _reconnecting = new(StringComparer.Ordinal);

    /// <param name="transports">Resolves the upstream URIs for the links.</param>
    /// <param name="downstream">The downstream session the links share.</param>
    /// <param name="generations">The A/B generation memory the links share.</param>
    /// <param name="telemetry">The links' metrics.</param>
    /// <param name="loggerFactory">Creates the links' logger.</param>
    /// <param name="logger">The supervisor's logger.</param>
    /// <param name="time">The links' clock.</param>
    /// <param name="ownership">Where links are placed among the instances, when they are spread; the links ask it before taking a lease.</param>
    public LinkReconciler(TransportResolver transports, DownstreamHandle downstream, LinkGenerations generations, FederationTelemetry telemetry, ILoggerFactory loggerFactory, ILogger logger, TimeProvider time, LinkOwnership? ownership = null)
    {
        _ownership = ownership;
        _transports = transports;
        _unusedPolicies = new UnusedPolicyWarnings(logger);
        _downstream = downstream;
        _generations = generations;
        _telemetry = telemetry;
        _loggerFactory = loggerFactory;
        _logger = logger;
        _time = time;
        _retired = new RetiredUpstreamQueues(transports, logger, time, ownership);
        _sweep = ownership is null ? null : new RemovedLinkSweep(ownership, downstream, transports, _links.ContainsKey, RunsFrom, ConsumesQueueOf, SameKindSuccessor, logger, time);
    }

    /// <summary>
    /// The definition this instance runs the link of <paramref name="old"/> under now, when it declares the same kind of
    /// upstream queue (<see cref="ITransport.UpstreamQueueKind"/>) as <paramref name="old"/>, whatever broker its URIs name.
    /// </summary>
    private LinkDefinition? SameKindSuccessor(LinkDefinition old) =>
        _links.TryGetValue(old.Id, out var link) && KindChangeAnywhere(old, link.Definition) is null ? link.Definition : null;

    /// <summary>
    /// How the kind of upstream queue changes (<c>old -> new</c>) from <paramref name="before"/> to <paramref name="after"/>,
    /// by their first URIs, whatever brokers they name; null when it does not.
    /// </summary>
    private string? KindChangeAnywhere(LinkDefinition before, LinkDefinition after) =>
        KindChange(before.Upstream.Uris[0], before, after.Upstream.Uris[0], after);

    /// <summary>
    /// Whether this instance runs the link of <paramref name="definition"/> again from a broker it used, with the same kind of
    /// upstream queue (a later reload moved it back).
    /// </summary>
    private bool RunsFrom(LinkDefinition definition) =>
        _links.TryGetValue(definition.Id, out var link) && ConsumesQueueOf(link.Definition, definition);

    /// <summary>
    /// Whether a link of <paramref name="definition"/> consumes the upstream queue that one of <paramref name="before"/> left:
    /// a URI of it reaches a broker <paramref name="before"/> used, and declares the same kind of queue there.
    /// </summary>
    private bool ConsumesQueueOf(LinkDefinition definition, LinkDefinition before) =>
        UpstreamBroker.Shared(before.Upstream.Uris, definition.Upstream.Uris) && QueueKindChange(before, definition) is null;

    /// <summary>Status entries of every link, ordered by exchange then upstream.</summary>
    public IReadOnlyList<LinkStatus> GetStatuses() =>
        [.. _links.Values.Select(l => l.Status).OrderBy(s => s.Exchange, StringComparer.Ordinal).ThenBy(s => s.Upstream, StringComparer.Ordinal).ThenBy(s => s.UpstreamExchange, StringComparer.Ordinal)];

    /// <summary>What the link with <paramref name="id"/> had dropped when it stopped for a new connection to the same downstream, or null. Loop only.</summary>
    public LinkDrops? ReconnectingDropsOf(string id) => _reconnecting.GetValueOrDefault(id);

    /// <summary>Restarts the link with <paramref name="id"/>; false when there is none.</summary>
    public bool TryRestart(string id)
    {
        if (!_links.TryGetValue(id, out var link))
        {
            return false;
        }

        link.RequestRestart();
        return true;
    }

    /// <summary>Stops links nobody asks for any more, restarts changed ones, and starts missing ones.</summary>
    /// <param name="session">The downstream session, whose identity is part of each link's.</param>
    /// <param name="definitions">The definitions to resolve.</param>
    /// <param name="exchanges">The downstream exchanges.</param>
    /// <param name="bindingsOf">The bindings of a downstream exchange, for its links to mirror.</param>
    /// <param name="instanceName">This engine's name, recorded with the leases its links hold.</param>
    /// <param name="stopping">
    /// The engine's stop: it cuts short what this pass waits for that a stop makes pointless (the probes of the upstreams of
    /// links moved to other URIs), and no link starts once it fired.
    /// </param>
    public async Task ReconcileAsync(DownstreamSession session, FederationDefinitions definitions, IEnumerable<ExchangeSpec> exchanges, Func<string, ExchangeBindings> bindingsOf, string instanceName, CancellationToken stopping)
    {
        var known = exchanges.ToList();
        if (_transports.TryResolve(definitions.DownstreamUri, out var downstreamTransport))
        {
            _unusedPolicies.Check(definitions, known, downstreamTransport.Capabilities);
        }

        var existing = known.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var desired = DesiredLinks.Resolve(definitions, known, session.ClusterName, session.VirtualHost,
            duplicate => Log.DuplicateLink(_logger, duplicate.Id, duplicate.Exchange.Name, duplicate.Upstream.UpstreamName, duplicate.UpstreamExchange));

        // Each upstream that links moved from or to is probed once in this pass, whatever number of links it serves; the
        // second looks this pass schedules at old queues share theirs likewise, once their wait is over.
        var probes = new UpstreamCluster(_transports, _logger, _time, "the engine stops", stopping);
        _sweep?.BeginPass(stopping);

        // Stop first, and wait: a replacement link must not start until its predecessor has let go of the queue they share
        // (or deleted it, when the replacement cannot take it over).
        var stops = new List<Task>();
        var replaced = new Dictionary<string, LinkDrops>(StringComparer.Ordinal);
        var prepared = new ConcurrentDictionary<string, UpstreamPreparation>(StringComparer.Ordinal);
        var starting = desired.Values.Where(d => !_links.ContainsKey(d.Id)).ToList();
        foreach (var (id, link) in _links)
        {
            if (!desired.TryGetValue(id, out var wanted))
            {
                _links.TryRemove(id, out _);
                stops.Add(link.Definition.ClusterName != session.ClusterName || link.Definition.VirtualHost != session.VirtualHost
                    // The same configuration on a downstream that names itself anew (event 2027): nobody removed these links,
                    // and what their upstream queues buffered is for the links under the new name to forward.
                    ? StopRenamedAsync(link, session.ClusterName)
                    : starting.FirstOrDefault(s => link.Definition.SharesUpstreamQueueWith(s) && QueueKindChange(link.Definition, s) is null) is { } successor
                        ? StopTakenOver(link, successor)
                        : StopRemovedAsync(link, existing.Contains(link.Definition.Exchange.Name)));
            }
            else if (!link.Definition.MovesMessagesAs(wanted))
            {
                _links.TryRemove(id, out _);
                replaced[id] = link.Drops; // it counts nothing more once stopped, which is awaited before its successor starts
                stops.Add(StopReplaced(link, wanted, probes, prepared, stopping));
            }
            else if (wanted != link.Definition)
            {
                // Nothing that moves messages changed: a restart would only delete the upstream queue and what it holds.
                Log.LinkUpdated(_logger, id, wanted.Exchange.Name, wanted.Upstream.UpstreamName, link.Definition.PolicyName ?? "(none)", wanted.PolicyName ?? "(none)");
                link.Update(wanted);
            }
        }

        await Task.WhenAll(stops).ConfigureAwait(false);
        if (stopping.IsCancellationRequested)
        {
            foreach (var preparation in prepared.Values)
            {
                await preparation.DisposeAsync().ConfigureAwait(false);
            }

            // The engine stops (a probe may have been cut short by it): whatever would start now, the stop that follows on
            // the loop would stop again at once.
            return;
        }

        // The old queues that links stopped just now waited for or forwarded go back to wait, before Begin below hands the
        // waiting ones to the links started here.
        await _retired.SettleAsync().ConfigureAwait(false);

        // A link whose upstream queue a reload that renamed the downstream retired comes back (the old identity again): the
        // queue is its own again, with what it buffered.
        var returning = desired.Values.Where(d => !_links.ContainsKey(d.Id)).ToList();
        await _retired.ReclaimAsync(old => returning.Any(d => d.Id == old.Id && ConsumesQueueOf(d, old))).ConfigureAwait(false);

        var started = new List<ExchangeLink>();
        foreach (var (id, definition) in desired)
        {
            if (_links.ContainsKey(id))
            {
                continue;
            }

            if (_sweep is not null)
            {
                // A link this instance dropped and now runs again: its queue is no longer for the sweep to look at.
                await _sweep.CancelAsync(definition).ConfigureAwait(false);
            }

            Log.LinkStarting(_logger, id, definition.Exchange.Name, definition.Upstream.UpstreamName);
            var drops = replaced.GetValueOrDefault(id) ?? _reconnecting.GetValueOrDefault(id);
            var link = new ExchangeLink(definition, _transports, _downstream, bindingsOf(definition.Exchange.Name), _generations, _telemetry, _loggerFactory.CreateLogger("Federation.Core.ExchangeLink"), _time, instanceName, _ownership, drops);
            if (prepared.TryRemove(id, out var preparation))
            {
                link.UsePrepared(preparation);
            }

            _links[id] = link;
            started.Add(link);
        }

        // A link that did not come back on the new connection was removed meanwhile: it takes its counts with it.
        _reconnecting.Clear();

        // The queues of the links a change of downstream identity stopped go once their successors' queues are bound. Handed
        // out before the successors start, so that their first run declares its queue as taking the old one over (a JetStream
        // durable consumer then starts at the old one's acknowledgement floor, not at the stream's end).
        _retired.Begin(SuccessorOf);
        foreach (var link in started)
        {
            link.Start();
        }
    }

    /// <summary>
    /// The running link that takes the place of <paramref name="retired"/>, stopped for a new downstream: it federates the
    /// same downstream exchange (by name) from the same upstream exchange, on the same upstream broker with the same kind of
    /// queue (the same upstream name first); null when none does.
    /// </summary>
    private ExchangeLink? SuccessorOf(LinkDefinition retired) => _links.Values
        .Where(l => l.Definition.Exchange.Name == retired.Exchange.Name && l.Definition.UpstreamExchange == retired.UpstreamExchange && ConsumesQueueOf(l.Definition, retired))
        .OrderBy(l => l.Definition.Upstream.UpstreamName == retired.Upstream.UpstreamName ? 0 : 1)
        .ThenBy(l => l.Definition.Id, StringComparer.Ordinal)
        .FirstOrDefault();

    /// <summary>
    /// Stops a link that this instance no longer runs. Its upstream queue is what other instances of the federation that
    /// still have the link consume when they take it over: while one of them is live and runs or waits for it (by its
    /// heartbeats), the queue and internal exchange stay, as at an engine stop that hands links over, and are looked at again
    /// once the heartbeats have caught up (<see cref="RemovedLinkSweep"/>): the others may have dropped the link in the same
    /// reload. Otherwise (this instance alone, or the downstream exchange deleted, which every instance sees) it is a clean stop.
    /// </summary>
    private async Task StopRemovedAsync(ExchangeLink link, bool exchangeExists)
    {
        await StopRemoved(link, exchangeExists).ConfigureAwait(false);

        // Its A/B memory goes with it, once no session of it can remember a generation any more (see LinkGenerations).
        _generations.Forget(link.Definition.Id);
    }

    private Task StopRemoved(ExchangeLink link, bool exchangeExists)
    {
        var definition = link.Definition;
        var others = exchangeExists ? _ownership?.OthersRunning(definition.Id) ?? [] : [];
        if (others.Count == 0)
        {
            return link.StopAsync(cleanup: true, stoppedFor: exchangeExists ? "the link was removed from the configuration" : "its downstream exchange was deleted");
        }

        Log.LinkStoppedForOthers(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, "is no longer in this instance's configuration", string.Join(", ", others));
        return StopKeepingForAsync(link, others);
    }

    /// <summary>
    /// Stops a link that a reload removed while a link it starts declares the very same upstream queue (same upstream broker
    /// and vhost, same queue name: an upstream renamed, whose name the queue's does not carry): the queue stays with what it
    /// buffers, for the new link, which starts once this one has stopped. When the new link declares it with other
    /// arguments, which the upstream refuses, the new link hands it over to one declared anew (event 2043), as a
    /// replacement does (see <see cref="StopReplaced"/>).
    /// </summary>
    private Task StopTakenOver(ExchangeLink link, LinkDefinition successor)
    {
        var definition = link.Definition;
        var (exchange, upstream) = (definition.Exchange.Name, definition.Upstream.UpstreamName);
        if (UpstreamQueueDeclaration.Difference(definition.Upstream, successor.Upstream) is { } difference && ChecksQueueArguments(successor))
        {
            // Kept as well: the new link, refused its declaration, hands the queue over to one declared anew (see StopReplaced).
            if (successor.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never)
            {
                Log.LinkReplacedKeepingRefusedQueue(_logger, definition.Id, exchange, upstream, difference);
            }
            else
            {
                Log.LinkReplacedHandingQueueOver(_logger, definition.Id, exchange, upstream, $"is taken over by link {successor.Id} ({exchange} <- {successor.Upstream.UpstreamName})", difference);
            }
        }
        else
        {
            Log.LinkQueueTakenOver(_logger, definition.Id, exchange, upstream, successor.Id, successor.Upstream.UpstreamName);
        }

        // The new link keeps its own ledger (the ledger's name carries the link id): this one's would stay behind for good.
        return link.StopAsync(cleanup: false, dropLedger: true);
    }

    /// <summary>Stops <paramref name="link"/> keeping its upstream queue, then has the queue looked at again once its lease is free.</summary>
    private async Task StopKeepingForAsync(ExchangeLink link, IReadOnlyList<string> others)
    {
        await link.StopAsync(cleanup: false).ConfigureAwait(false);
        _sweep?.Schedule(link.Definition, others);
    }

    /// <summary>
    /// Stops a link whose definition changed in how it moves messages, before its replacement (same id, same upstream queue
    /// name) starts. The replacement takes the queue over with what it buffered, so it stays; also when the new definition
    /// declares it with other arguments on an upstream that checks them (it refuses to declare it again): the new run then
    /// hands it over to a queue declared anew, forwarding what it holds (event 2043, <see cref="ExchangeLink"/>'s handover;
    /// with <c>resource-cleanup-mode: never</c> the refusal stands, warning 2042). It goes when the new definition
    /// reaches another upstream, or declares another kind of
    /// queue on the same one (<see cref="ITransport.UpstreamQueueKind"/>): the old queue would be left there, filling up,
    /// unless another live instance still runs the link from it. A queue of another kind left behind also delivered again,
    /// once a later reload switched back to it, everything the other kind had forwarded meanwhile.
    /// </summary>
    /// <param name="link">The running link.</param>
    /// <param name="wanted">Its new definition.</param>
    /// <param name="probes">The upstream clusters this pass probes.</param>
    /// <param name="prepared">
    /// Where a switch of the kind of upstream queue leaves the new run's queue, declared and bound before the old run stops
    /// (<see cref="UpstreamPreparation"/>), for the link that replaces this one.
    /// </param>
    /// <param name="stopping">The engine's stop.</param>
    private Task StopReplaced(ExchangeLink link, LinkDefinition wanted, UpstreamCluster probes, ConcurrentDictionary<string, UpstreamPreparation> prepared, CancellationToken stopping)
    {
        var definition = link.Definition;
        var (exchange, upstream) = (definition.Exchange.Name, definition.Upstream.UpstreamName);
        var change = definition.UpstreamQueueChangeTo(wanted);
        if (change == UpstreamQueueChange.Arguments && !ChecksQueueArguments(wanted))
        {
            // A transport that ignores queue arguments (NATS) takes the queue over as it is: nothing to refuse.
            change = UpstreamQueueChange.None;
        }

        var kindChange = change == UpstreamQueueChange.Upstream ? null : QueueKindChange(definition, wanted);
        if (kindChange is not null)
        {
            change = UpstreamQueueChange.Upstream;
        }

        switch (change)
        {
            case UpstreamQueueChange.None:
                Log.LinkReplacedKeepingQueue(_logger, definition.Id, exchange, upstream, "under its new definition", KeepingCaveat(definition));
                return link.StopAsync(cleanup: false);
            case UpstreamQueueChange.Arguments:
                var difference = UpstreamQueueDeclaration.Difference(definition.Upstream, wanted.Upstream);
                if (wanted.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never)
                {
                    // The new run deletes nothing (never), so its declaration is refused until someone deletes the queue: say
                    // that, rather than 2020's "deleted (unless ... never)", next to links that then fail with 406 for good.
                    Log.LinkReplacedKeepingRefusedQueue(_logger, definition.Id, exchange, upstream, $"{difference}");
                    return link.StopAsync(cleanup: false);
                }

                // The queue stays, with what it buffers: the new run, refused its declaration, hands it over to one declared
                // anew (ExchangeLink.Handover). Deleted here, as it was, it took what it held with it, and what the upstream
                // routed until the new run had bound the new queue reached no queue.
                Log.LinkReplacedHandingQueueOver(_logger, definition.Id, exchange, upstream, "restarts under a new definition", $"{difference}");
                return link.StopAsync(cleanup: false);
            default:
                // Only an instance whose upstream of that name still reaches the old broker, with the old kind of queue, can
                // consume the old queue: one that has the link from the new broker or kind (it reloaded first) is no reason
                // to keep it.
                var others = _ownership?.OthersRunningFrom(definition, _transports.CoarseUpstreamQueueKind) ?? [];
                if (others.Count > 0)
                {
                    var restarts = kindChange is null
                        ? "restarts against another upstream (no URI of its new definition reaches the one it used)"
                        : $"restarts with another kind of upstream queue ({kindChange})";
                    Log.LinkStoppedForOthers(_logger, definition.Id, exchange, upstream, restarts, string.Join(", ", others));
                    return kindChange is null
                        ? StopMovedAsync(link, cleanup: false, null, others)
                        : PrepareThenStopAsync(link, wanted, kindChange, prepared, () => StopMovedAsync(link, cleanup: false, null, others), stopping);
                }

                if (kindChange is null)
                {
                    return StopMovedUnlessSameClusterAsync(link, wanted, probes, stopping);
                }

                var switched = $"declares another kind of upstream queue ({kindChange}), which cannot take the old one over";
                Log.LinkReplacedDiscarding(_logger, definition.Id, exchange, upstream, switched);
                return PrepareThenStopAsync(link, wanted, kindChange, prepared, () => StopMovedAsync(link, cleanup: true, switched, others), stopping);
        }
    }

    /// <summary>How long a switch of the kind of upstream queue may take to declare and bind the new queue before the old run stops.</summary>
    private static readonly TimeSpan PrepareTimeout = TimeSpan.FromSeconds(PrepareTimeoutSeconds);

    private const int PrepareTimeoutSeconds = 10;

    /// <summary>
    /// Make before break for a switch of the kind of upstream queue (NATS: core to JetStream or back): while the old run still
    /// consumes, the new run's queue is declared and bound on a connection of its own (<see cref="UpstreamPreparation"/>),
    /// which the new run then consumes; only then does <paramref name="stop"/> stop the old run. What the upstream publishes
    /// in between reaches both: duplicates, not a loss (event 1106). A link that does not run here (it waits for another
    /// instance) prepares nothing: that instance switches on its own reload. When the preparation fails or takes longer
    /// than <see cref="PrepareTimeout"/>, the switch goes on as before it existed, a loss window (warning 1107). Once the new
    /// queue is bound, the old run is given the rest of that bound to take on what its own queue held by then
    /// (<see cref="ExchangeLink.CatchUpAsync"/>: a JetStream durable consumer a few messages behind its stream), which would
    /// otherwise go with it.
    /// </summary>
    private async Task PrepareThenStopAsync(ExchangeLink link, LinkDefinition wanted, string kindChange, ConcurrentDictionary<string, UpstreamPreparation> prepared, Func<Task> stop, CancellationToken stopping)
    {
        var definition = link.Definition;
        if (link.RunsHere)
        {
            using var timeout = new CancellationTokenSource(PrepareTimeout, _time);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
            try
            {
                prepared[wanted.Id] = await link.PrepareSuccessorAsync(wanted, limit.Token).ConfigureAwait(false);
                Log.UpstreamQueuePrepared(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, kindChange);

                // What the old queue held when the new one was bound is for the old run to take on before it stops (a
                // durable consumer a little behind its stream: deleted with it, that was lost), within the same bound.
                try
                {
                    await link.CatchUpAsync(limit.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                {
                    // Still behind after the bound: the switch goes on, and what it had not taken on goes with the old queue.
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // The engine stops: the old run stops with it, and no new one starts.
            }
            catch (Exception ex) when (ex is TransportException or OperationCanceledException or InvalidOperationException or TimeoutException)
            {
                var cause = ex is OperationCanceledException
                    ? $"it took longer than {PrepareTimeoutSeconds} s"
                    : UriRedaction.RedactText(ex.Message);
                Log.UpstreamQueueNotPrepared(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, kindChange, cause);
            }
        }

        await stop().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops a link whose new URIs share no address with its old ones. They may still reach the same cluster and virtual
    /// host (another node of the cluster, a host name for an address), and then the same queue, which the new run consumes:
    /// it stays (before 6 Dec 2026 it was deleted as left behind, with what it held). Otherwise, or when either side cannot
    /// tell (unreachable, no cluster name; event 2037 says why, once per upstream), it is deleted as left behind on another
    /// broker. When the engine stops during the probe, the probe is cut short and tells nothing: the queue is kept and the
    /// old link stops without cleanup.
    /// </summary>
    private async Task StopMovedUnlessSameClusterAsync(ExchangeLink link, LinkDefinition wanted, UpstreamCluster probes, CancellationToken stopping)
    {
        var definition = link.Definition;
        var (exchange, upstream) = (definition.Exchange.Name, definition.Upstream.UpstreamName);
        if (KindChangeAnywhere(definition, wanted) is { } kindChange)
        {
            // Same cluster or not, the new run's kind of queue cannot take the old one over (NATS: core <-> JetStream
            // together with another address for the server): it goes, as on the same address.
            var switched = $"declares another kind of upstream queue ({kindChange}) on URIs that share no address with its old ones, which cannot take the old one over";
            Log.LinkReplacedDiscarding(_logger, definition.Id, exchange, upstream, switched);
            await StopMovedAsync(link, cleanup: true, switched, []).ConfigureAwait(false);
            return;
        }

        (string ClusterName, string VirtualHost)? shared;
        try
        {
            shared = await probes.SharedAsync(definition, wanted, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // A stop is no evidence of a move: deleting the queue would discard what it buffers, which is the queue the link
            // consumes when it next runs if both URIs reach one cluster. Kept, it is at worst left on another broker, as any
            // queue a stop hands over is, and event 2037 said so. No second look is scheduled: the stop cancels them all.
            // The link is no longer among the running ones, so the engine's stop would not stop it: this does.
            await link.StopAsync(cleanup: false).ConfigureAwait(false);
            return;
        }

        if (shared is { } same)
        {
            var why = $"against other URIs of the same upstream cluster ('{PrintableText.Escape(same.ClusterName)}', vhost '{PrintableText.Escape(same.VirtualHost)}', as both name themselves)";
            Log.LinkReplacedKeepingQueue(_logger, definition.Id, exchange, upstream, why, KeepingCaveat(definition));
            await link.StopAsync(cleanup: false).ConfigureAwait(false);
            return;
        }

        const string Moved = "reaches another upstream (no URI of its new definition reaches the one it used, nor names the same cluster and vhost once connected), where the old queue would be left behind";
        Log.LinkReplacedDiscarding(_logger, definition.Id, exchange, upstream, Moved);
        await StopMovedAsync(link, cleanup: true, Moved, []).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops a link that a reload moved to another broker, then, when its stop did not delete the old queue (kept for other
    /// instances, or never run here: a link that waited has no session to clean up with), has that queue looked at again once
    /// the heartbeats have caught up (<see cref="RemovedLinkSweep.ScheduleMoved"/>). Without this, a link moved on every
    /// instance left its old queue behind: the holder kept it for an instance that had not reloaded yet, and that one, when
    /// it reloaded, had nothing to delete it with.
    /// </summary>
    private async Task StopMovedAsync(ExchangeLink link, bool cleanup, string? discarding, IReadOnlyList<string> keptFor)
    {
        var ran = link.Status.State == LinkState.Running;
        await link.StopAsync(cleanup, discarding).ConfigureAwait(false);
        if (!cleanup || !ran)
        {
            _sweep?.ScheduleMoved(link.Definition, keptFor);
        }
    }

    /// <summary>
    /// How the kind of upstream queue changes (<c>old -> new</c>, <see cref="ITransport.UpstreamQueueKind"/>) between a URI of
    /// <paramref name="before"/> and one of <paramref name="after"/> that reach the same broker (<see cref="UpstreamBroker"/>),
    /// or null when none changes.
    /// </summary>
    private string? QueueKindChange(LinkDefinition before, LinkDefinition after)
    {
        foreach (var old in before.Upstream.Uris)
        {
            var broker = UpstreamBroker.OrText(old);
            foreach (var now in after.Upstream.Uris.Where(u => UpstreamBroker.OrText(u) == broker))
            {
                if (KindChange(old, before, now, after) is { } change)
                {
                    return change;
                }
            }
        }

        return null;
    }

    /// <summary>How the kind of upstream queue changes (<c>old -> new</c>) from <paramref name="old"/> of <paramref name="before"/> to <paramref name="now"/> of <paramref name="after"/>, or null when it does not.</summary>
    private string? KindChange(string old, LinkDefinition before, string now, LinkDefinition after)
    {
        var (was, becomes) = (KindOf(old, before.UpstreamExchange), KindOf(now, after.UpstreamExchange));
        return was == becomes ? null : $"{was ?? "the transport's only kind"} -> {becomes ?? "the transport's only kind"}";
    }

    private string? KindOf(string uri, string upstreamExchange) => _transports.TryResolve(uri, out var transport) ? transport.UpstreamQueueKind(uri, upstreamExchange) : null;

    /// <summary>
    /// What event 2018 adds for an upstream whose transport keeps no queue on the broker (core NATS): such a queue lives in
    /// the link's connection, so the restart loses it. Nothing for a broker that keeps it.
    /// </summary>
    private string KeepingCaveat(LinkDefinition definition) => ChecksQueueArguments(definition)
        ? ""
        : " (unless its queue lives in the link's connection, as a core NATS queue does: what that held is lost, event 1011, and what is published until the new run subscribes is missed; a JetStream durable consumer is kept)";

    /// <summary>Whether the upstream of <paramref name="definition"/> refuses to declare an existing queue with other arguments (<see cref="TransportCapabilities.ServerSideTopology"/>).</summary>
    private bool ChecksQueueArguments(LinkDefinition definition) =>
        definition.Upstream.Uris.Any(uri => _transports.Resolve(uri).Capabilities.HasFlag(TransportCapabilities.ServerSideTopology));

    /// <summary>
    /// Stops every link as the engine stops. A link whose upstream queue another live instance will consume (its heartbeats
    /// say it holds, waits or stands by for the link, or it does not say which links it has) keeps it, whatever
    /// <c>resource-cleanup-mode</c> says: that is a handover, and the next holder forwards what the queue buffered. Any
    /// other link is stopped cleanly, as on a single host: a live instance that does not have the link (another
    /// configuration on the same downstream) would never consume its queue, which would only fill up.
    /// </summary>
    /// <param name="deadline">The stop's deadline, which every link's waits for the downstream share.</param>
    public async Task StopAllHandingOverAsync(StopDeadline deadline)
    {
        if (_sweep is not null)
        {
            await _sweep.CancelAllAsync().ConfigureAwait(false);
        }

        // First, so that a successor forwarding an old queue stops doing so before it stops itself.
        await _retired.StopAsync(deadline).ConfigureAwait(false);

        await Task.WhenAll(_links.Values.Select(link =>
        {
            var definition = link.Definition;
            var others = _ownership?.OthersRunning(definition.Id) ?? [];
            if (others.Count == 0)
            {
                return link.StopAsync(cleanup: true, stoppedFor: "the engine stopped and no other instance takes the link over", deadline: deadline);
            }

            Log.LinkStoppedForOthers(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, "stops with this instance", string.Join(", ", others));
            return link.StopAsync(cleanup: false, deadline: deadline);
        })).ConfigureAwait(false);
        _links.Clear();
    }

    /// <summary>
    /// Stops every link keeping its upstream queue (event 2018), for a new connection to the same downstream (new credentials
    /// or query keys): the links that the next reconciliation starts on it have the same ids, take the queues over with
    /// what they buffered, and go on counting the drops of the ones stopped here.
    /// </summary>
    public async Task StopAllForReconnectAsync()
    {
        foreach (var (id, link) in _links)
        {
            var definition = link.Definition;
            Log.LinkReplacedKeepingQueue(_logger, id, definition.Exchange.Name, definition.Upstream.UpstreamName, "on a new downstream connection (the reload changed only how the engine reaches the downstream)", KeepingCaveat(definition));
            _reconnecting[id] = link.Drops; // it counts nothing more once stopped, which is awaited before the next reconciliation
        }

        await Task.WhenAll(_links.Values.Select(l => l.StopAsync(cleanup: false))).ConfigureAwait(false);
        _links.Clear();
    }

    /// <summary>
    /// Stops every link for another downstream (another cluster name or virtual host), whose links have other ids and
    /// upstream queues. Make before break: each upstream queue stays bound, buffering, until the link of the new downstream
    /// that takes its place has declared and bound its own (<see cref="RetiredUpstreamQueues"/>); then, on the same broker
    /// and vhost, that link forwards what the old queue holds and deletes it, and on another the old queue is deleted with
    /// a warning (event 2020) and the number of messages it held (event 1028), as for a link that moves to another upstream.
    /// Deleted at the stop, as it was, what the upstream published until the new queue was bound reached no queue and was
    /// not counted (a black-box run lost 50 messages and counted 10). Except a queue that another live instance of the
    /// federation this one leaves still has the link for (by its heartbeats): that instance goes on consuming it, or takes
    /// the link over from it, as at an engine stop that hands links over. Deleted under it, what the queue buffered and
    /// what the upstream routed until that instance declared the queue again was lost (one host of several renamed by a
    /// reload, measured: 50 of 3,000 messages). On the same broker and vhost such a queue, and one this instance never
    /// held (its link waited for another instance), is retired as a downstream that renames itself retires its old queues
    /// (<see cref="RetiredUpstreamQueues.AddRenamedByReload"/>): the instance that runs the link under the new name forwards
    /// it and deletes it once no live instance has the old link any more, under the old link's lease. Before, when every
    /// instance was renamed within a few seconds, each kept the queue for the other, or the last one had never held it, and
    /// the queue stayed for good, filling.
    /// </summary>
    /// <param name="sameDownstream">Whether the new downstream is the same broker and vhost (only the name changes).</param>
    public async Task StopAllForNewDownstreamAsync(bool sameDownstream)
    {
        if (_sweep is not null)
        {
            // As at a stop: the queues kept for other instances are theirs to decide on.
            await _sweep.CancelAllAsync().ConfigureAwait(false);
        }

        var stopping = new List<Task>();
        foreach (var (id, link) in _links)
        {
            var definition = link.Definition;
            var others = _ownership?.OthersRunning(id) ?? [];
            if (others.Count > 0)
            {
                Log.LinkStoppedForOthers(_logger, id, definition.Exchange.Name, definition.Upstream.UpstreamName, "federates another downstream after a reload (another cluster name or virtual host)", string.Join(", ", others));
                stopping.Add(sameDownstream ? StopKeepingForOthersRenamedAsync(link) : link.StopAsync(cleanup: false));
                continue;
            }

            stopping.Add(RetireAsync(link, sameDownstream));
        }

        await Task.WhenAll(stopping).ConfigureAwait(false);
        _links.Clear();
        _reconnecting.Clear();
    }

    /// <summary>
    /// Stops a link whose upstream queue other instances of the federation it leaves still have (event 2019), for the same
    /// downstream broker and vhost under another cluster name. They go on consuming it, or take the link over, meanwhile;
    /// but they may be renamed by the same change of configuration moments later, and then each would keep the queue for
    /// the other, or the last would be one that never held the link's lease: nobody deleted it, and it filled for good. So
    /// the queue is also retired as a renamed downstream's (<see cref="RetiredUpstreamQueues.AddRenamedByReload"/>): the
    /// instance that runs the link under the new name forwards and deletes it, but only once no live instance has the old
    /// link by its heartbeats and while it holds the old link's lease, which whoever still consumes the queue holds.
    /// </summary>
    private async Task StopKeepingForOthersRenamedAsync(ExchangeLink link)
    {
        // Its ledger stays: another instance may still run the link with it.
        await link.StopAsync(cleanup: false).ConfigureAwait(false);
        if (link.Definition.Upstream.ResourceCleanupMode != ResourceCleanupMode.Never)
        {
            _retired.AddRenamedByReload(link.Definition);
        }
    }

    /// <summary>
    /// Stops a link for another downstream keeping its upstream queue (its ledger, on the downstream it leaves, goes), and
    /// hands the queue to <see cref="RetiredUpstreamQueues"/> when a clean stop would have deleted it. A link that never
    /// held its lease here waited for another instance, which ran it: on another broker or vhost that instance decides on
    /// the queue, as before; on the same one (only the name changed) it is retired as one kept for other instances is
    /// (<see cref="StopKeepingForOthersRenamedAsync"/>), since that instance may be renamed too and have kept it for this one.
    /// </summary>
    private async Task RetireAsync(ExchangeLink link, bool sameDownstream)
    {
        var definition = link.Definition;
        if (definition.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never)
        {
            // Nothing is deleted: the queue stays as it is, as before.
            Log.LinkReplacedDiscarding(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, RetiredUpstreamQueues.Why);
            await link.StopAsync(cleanup: true, RetiredUpstreamQueues.Why).ConfigureAwait(false);
            return;
        }

        await link.StopAsync(cleanup: false, dropLedger: true).ConfigureAwait(false);
        if (link.HeldUpstreamQueueAtStop)
        {
            _retired.Add(definition, sameDownstream);
        }
        else if (sameDownstream)
        {
            _retired.AddRenamedByReload(definition);
        }
    }

    /// <summary>
    /// Stops a link that ran under the downstream's previous cluster name, which the downstream changed on a reconnect with
    /// the same configuration (event 2027): make before break, as for a reload that renames the downstream. Its upstream
    /// queue stays bound, buffering, and the instance that runs the link under the new name forwards it and deletes it once
    /// that link has bound its own, while no other instance still under the old name may consume it
    /// (<see cref="RetiredUpstreamQueues.AddRenamed"/>, which says who and why that is safe). Whether this instance held the
    /// old link's lease does not matter: the connection drop took it, from every instance that held it. Until 6 Dec 2026
    /// the old queue stayed for good, filling, and what the upstream routed to it after the rename was never forwarded.
    /// </summary>
    private async Task StopRenamedAsync(ExchangeLink link, string clusterName)
    {
        var definition = link.Definition;
        if (definition.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never)
        {
            // Nothing is deleted: the queue stays as it is, as before.
            await link.StopAsync(cleanup: false).ConfigureAwait(false);
            return;
        }

        // Its ledger goes (another link, another id, forwards the queue), unless another instance may still run it.
        await link.StopAsync(cleanup: false, dropLedger: true).ConfigureAwait(false);
        _retired.AddRenamed(definition, clusterName);
    }

    /// <summary>How many second looks at removed or moved links' upstream queues are pending (tests look). Any thread.</summary>
    internal int SweepsPending => _sweep?.Pending ?? 0;

    /// <summary>The links a stop would cut short because they are not up, or null when all are. Any thread.</summary>
    public string? DescribeNotUp()
    {
        var notUp = _links.Values.Select(l => l.Status).Where(s => s.State is LinkState.Starting or LinkState.Error).ToList();
        return notUp.Count == 0
            ? null
            : $"{notUp.Count} link(s) not up: {string.Join(", ", notUp.OrderBy(s => s.Id, StringComparer.Ordinal).Select(s => $"{s.Id} ({s.Exchange} <- {s.Upstream}, {s.Uri})"))}";
    }

    /// <summary>The clean stops an abandoned stop leaves unfinished, or null when there are none. Any thread.</summary>
    public string? DescribeUnfinishedStop() => _links.IsEmpty
        ? null
        : $"the clean stop of {_links.Count} link(s) ({string.Join(", ", _links.Keys.Order(StringComparer.Ordinal))}); their upstream objects may remain";
}
