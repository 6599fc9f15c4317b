using Federation.Core.Diagnostics;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Topology;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// Keeps the running links equal to what the definitions and the downstream topology ask for. It composes four parts
/// that share one loop (<see cref="SupervisorLoop"/>), so changes apply in order without locks while the links run on
/// their own tasks: the downstream connection (<see cref="DownstreamConnector"/>), the topology mirror
/// (<see cref="TopologyMirror"/>), declaring in explicit mode (<see cref="ExplicitTopologyDeclarer"/>), and the running
/// links (<see cref="LinkReconciler"/>, beside the A/B memory they share, <see cref="LinkGenerations"/>).
/// </summary>
internal sealed class LinkSupervisor : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SupervisorLoop _loop;
    private readonly DownstreamConnector _downstream;
    private readonly TopologyMirror _topology;
    private readonly ExplicitTopologyDeclarer? _declarer;
    private readonly LinkGenerations _generations = new();
    private readonly LinkReconciler _links;
    private readonly PendingLinks _pending;
    private readonly TransportResolver _transports;
    private readonly ExplicitTopology? _explicitTopology;
    private readonly TimeProvider _time;

    // Fixed at start, like the ownership it names: leases and presence are recorded under it, and a name that changed
    // under a running engine would stop it recognising the leases it holds.
    private readonly string _instanceName;
    private FederationDefinitions _definitions;

    // What the engine started with: the start-only settings (InstanceName, SpreadLinks, Ownership) are compared with these on each
    // reconfiguration, not with the last one, because the running values are these until a restart.
    private readonly FederationDefinitions _started;
    private readonly LinkOwnership? _ownership;
    private readonly InstancePresence? _presence;

    // The definitions, cluster name and vhost of the last session whose topology the mirror holds: while the definitions
    // still name that downstream (DownstreamChange.KeepsLinks), its links are known without it. Loop only.
    private DownstreamChange.Running? _lastSession;

    public LinkSupervisor(FederationDefinitions definitions, TransportResolver transports, FederationTelemetry telemetry, ILoggerFactory loggerFactory, TimeProvider time, ExplicitTopology? explicitTopology = null)
    {
        _definitions = definitions;
        _started = definitions;
        _time = time;
        _transports = transports;
        _explicitTopology = explicitTopology;
        _instanceName = definitions.InstanceName ?? DefaultInstanceName.Next();
        _pending = new PendingLinks(_instanceName, time);
        _logger = loggerFactory.CreateLogger("Federation.Core.LinkSupervisor");
        LogDuplicateSetElements(definitions);
        _loop = new SupervisorLoop(_logger, _stopping.Token);
        _downstream = new DownstreamConnector(_loop, transports, () => _definitions, observeTopology: explicitTopology is null, OnDownstreamConnectedAsync, OnDownstreamReleased, _logger, time, _stopping.Token);
        _declarer = explicitTopology is null ? null : new ExplicitTopologyDeclarer(_logger, _stopping.Token);
        _topology = new TopologyMirror(_loop, _downstream, explicitTopology, _declarer, ReconcileAsync, _logger, time, _stopping.Token);
        if (definitions.SpreadLinks)
        {
            _ownership = new LinkOwnership(InstanceName, OwnershipTimings.From(definitions.Ownership), time);
            AnnounceUpstreams(definitions);
            _presence = new InstancePresence(_ownership, _downstream.Handle, time, loggerFactory.CreateLogger("Federation.Core.InstancePresence"), () => _definitions.ClusterName);
        }

        _links = new LinkReconciler(transports, _downstream.Handle, _generations, telemetry, loggerFactory, _logger, time, _ownership);
    }

    /// <summary>The effective cluster name once the downstream is connected.</summary>
    public string? ClusterName => _downstream.Session?.ClusterName;

    /// <summary>This engine's name as recorded with the link leases it holds: the configured one, or <c>machine:pid</c>.</summary>
    public string InstanceName => _instanceName;

    /// <summary>The A/B memory of this supervisor's links (tests look).</summary>
    internal LinkGenerations Generations => _generations;

    /// <summary>How many runs of other instances the presence remembers warning about (tests look).</summary>
    internal int LeaseWarningsKept => _presence?.LeaseWarningsKept ?? 0;

    /// <summary>Runs of another instance with this one's InstanceName that this instance currently hears (tests look).</summary>
    internal int NamesakesKept => _ownership?.NamesakesKept ?? 0;

    /// <summary>What this instance has heard of the others, with link leases; null without (tests look).</summary>
    internal LinkOwnership? Ownership => _ownership;

    /// <summary>How many second looks at removed or moved links' upstream queues are pending (tests look).</summary>
    internal int SweepsPending => _links.SweepsPending;

    /// <summary>Whether the downstream is connected.</summary>
    public bool DownstreamConnected => _downstream.Session is not null;

    /// <summary>Why the downstream is not connected (its last attempt's failure, redacted), or null. Any thread.</summary>
    public string? DownstreamError => _downstream.LastError;

    /// <summary>Why the connected downstream blocks publishing (a resource alarm), or null. Any thread.</summary>
    public string? DownstreamBlocked => _downstream.BlockedReason;

    /// <summary>Why the connected downstream's topology cannot be observed as its URI asks, or null. Any thread.</summary>
    public string? DownstreamTopologyUnobserved => _downstream.TopologyUnobserved;

    /// <summary>See <see cref="IFederationStatus.InstanceConflict"/>.</summary>
    public string? InstanceConflict => _ownership?.NamesakeConflict;

    /// <summary>See <see cref="IFederationStatus.OwnHeartbeatsUnheard"/>.</summary>
    public string? OwnHeartbeatsUnheard => DownstreamConnected ? _ownership?.OwnHeartbeatsUnheard : null;

    /// <summary>
    /// Status entries of every link, ordered by exchange then upstream: those that run, and while the downstream is not
    /// connected those that wait for it to start (<see cref="PendingLinks"/>). While it is not connected, an entry without
    /// an error of its own shows why the downstream is not (no link can forward then, whatever its state). Any thread.
    /// </summary>
    public IReadOnlyList<LinkStatus> GetStatuses()
    {
        // Read before the links: a link listed because the downstream is down must not be listed without the reason.
        var problem = DownstreamProblem();
        var pending = _pending.Statuses;
        var running = _links.GetStatuses();
        if (pending.Count == 0 && problem is null)
        {
            return running;
        }

        var ids = running.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        return
        [
            .. running.Concat(pending.Where(p => !ids.Contains(p.Id)))
                .Select(s => problem is null ? s : s with { Error = WithDownstreamProblem(problem, s.Error) })
                .OrderBy(s => s.Exchange, StringComparer.Ordinal).ThenBy(s => s.Upstream, StringComparer.Ordinal).ThenBy(s => s.UpstreamExchange, StringComparer.Ordinal),
        ];
    }

    /// <summary>
    /// A link's error while the downstream is not connected: the downstream's problem first, since that is what an operator
    /// has to mend, and the link's own error after it. A link's own error then is most often a consequence (its lease went
    /// with the downstream connection: "The link lost its lease ..."), which read alone sent operators to look at leases.
    /// </summary>
    private static string WithDownstreamProblem(string problem, string? own) =>
        own is null || own.StartsWith(NotConnected, StringComparison.Ordinal) ? own ?? problem : $"{problem} (the link's own last error: {own})";

    private const string NotConnected = "The downstream broker is not connected";

    /// <summary>Why no link can forward: the downstream is not connected (with its last attempt's failure when known); null while it is. Any thread.</summary>
    private string? DownstreamProblem()
    {
        if (DownstreamConnected)
        {
            return null;
        }

        return DownstreamError is { } cause ? $"{NotConnected}: {UriRedaction.RedactText(cause)}" : $"{NotConnected}.";
    }

    /// <summary>
    /// Makes the first downstream connection attempt; links follow once it is connected, and meanwhile the links known
    /// without the downstream are listed as pending.
    /// </summary>
    public void Start() => _loop.Post(() =>
    {
        _presence?.Start();
        _downstream.Begin();
        ShowPendingLinks();
        return Task.CompletedTask;
    });

    /// <summary>
    /// Applies new definitions; only links whose definition changed in how they move messages are restarted. A failure is logged and rethrown; the
    /// supervisor stays connected to (or keeps trying) the downstream and takes the next reconfiguration.
    /// </summary>
    public Task ReconfigureAsync(FederationDefinitions definitions) => ReconfigureAsync(definitions, skipEquivalent: false);

    /// <summary>
    /// Applies new definitions as <see cref="ReconfigureAsync(FederationDefinitions)"/> does, unless they are equivalent to
    /// the running ones (<see cref="FederationDefinitions.IsEquivalentTo"/>); then nothing is done or logged.
    /// </summary>
    /// <returns>Whether the definitions were applied. Compared on the loop, so that of two reloads bringing the same change, one applies it.</returns>
    public Task<bool> ReconfigureIfChangedAsync(FederationDefinitions definitions) => ReconfigureAsync(definitions, skipEquivalent: true);

    private Task<bool> ReconfigureAsync(FederationDefinitions definitions, bool skipEquivalent) => _loop.Ask(async () =>
    {
        if (skipEquivalent && definitions.IsEquivalentTo(_definitions))
        {
            return false;
        }

        LogDuplicateSetElements(definitions);
        LogStartOnlyChanges(definitions);
        try
        {
            await ApplyDefinitionsAsync(definitions).ConfigureAwait(false);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            Log.ReconfigurationFailed(_logger, ex);

            // Whatever broke, keep a way back: without a downstream session there must be an attempt or a retry under way.
            _downstream.BeginUnlessRetryScheduled();
            throw;
        }
        finally
        {
            // Not connected (any more, or yet): the links of the new definitions are listed as they would start.
            if (_downstream.Session is null)
            {
                ShowPendingLinks();
            }
            else
            {
                _pending.Clear();
            }
        }

        return true;
    });

    /// <summary>
    /// Restarts the link with <paramref name="id"/>; false when there is none. A link pending the downstream cannot start
    /// without it: the downstream is tried again at once instead.
    /// </summary>
    public Task<bool> RestartLinkAsync(string id) => _loop.Ask(() =>
    {
        if (_links.TryRestart(id))
        {
            return Task.FromResult(true);
        }

        if (_downstream.Session is null && _pending.Contains(id))
        {
            _downstream.Begin();
            return Task.FromResult(true);
        }

        return Task.FromResult(false);
    });

    /// <summary>
    /// Stops every link cleanly (deleting upstream objects unless <c>never</c>) and closes the downstream. A downstream
    /// connect attempt in flight is abandoned at once. When <paramref name="cancellationToken"/> fires first (a host's
    /// shutdown deadline), whatever is still stopping is abandoned, logged at warning, and the method returns without throwing.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        // Every wait for the downstream from here on shares one deadline, so that a downstream that answers nothing (a
        // resource alarm) holds the stop for one drain timeout, not for the sum of the steps' own bounds.
        var deadline = new StopDeadline(_time);

        // First, so that nothing new starts and a connect or snapshot in flight gives up instead of running to its timeout.
        var abandoned = Join(_downstream.DescribeAttemptInFlight(), _links.DescribeNotUp());
        await _stopping.CancelAsync().ConfigureAwait(false);
        _pending.Clear();
        if (abandoned.Length > 0)
        {
            Log.ConnectsAbandoned(_logger, abandoned);
        }

        var stopped = _loop.Ask(async () =>
        {
            _downstream.CancelAttempt();

            // While other instances that have a link are live this is a handover, not the end of that link: keep its upstream
            // queue for the next holder (links no live instance has are cleaned up as on a single host), and say we leave
            // once the leases are released, so that the others take them at once.
            await _links.StopAllHandingOverAsync(deadline).ConfigureAwait(false);
            if (_presence is not null)
            {
                await deadline.WaitAsync(_presence.LeaveAsync()).ConfigureAwait(false);
            }

            await _downstream.DisconnectAsync(deadline).ConfigureAwait(false);
        });
        try
        {
            await stopped.WaitAsync(cancellationToken).ConfigureAwait(false);
            _loop.Complete();
            await _loop.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _loop.Complete();
            Log.StopAbandoned(_logger, Join(_links.DescribeUnfinishedStop(), _downstream.DescribeUnfinishedStop()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_presence is not null)
        {
            await _presence.DisposeAsync().ConfigureAwait(false);
        }

        // After an abandoned stop the loop may still use the token; it is only disposed once nothing can.
        if (_loop.Completion.IsCompleted)
        {
            _stopping.Dispose();
        }
    }

    private static string Join(params string?[] parts) => string.Join("; ", parts.OfType<string>());

    // Once per configuration taken (at start and at each reconfiguration), not per resolved exchange.
    private void LogDuplicateSetElements(FederationDefinitions definitions)
    {
        foreach (var duplicate in definitions.DuplicateSetElements)
        {
            Log.DuplicateSetElement(_logger, duplicate.Set, duplicate.Index, duplicate.Upstream, duplicate.FirstIndex);
        }
    }

    // InstanceName, SpreadLinks and Ownership built this instance's place among the others once, at start; a reload cannot change
    // them, so it says so rather than keep the old values silently, and the rest of the reload goes on.
    private void LogStartOnlyChanges(FederationDefinitions definitions)
    {
        var changes = StartOnlySettings.Changes(_started, definitions);
        if (changes.Count > 0)
        {
            Log.StartOnlySettingsChanged(_logger, string.Join(", ", changes));
        }
    }

    private async Task ApplyDefinitionsAsync(FederationDefinitions definitions)
    {
        var previous = _definitions;
        var downstreamChanged = definitions.ClusterName != previous.ClusterName || definitions.DownstreamUri != previous.DownstreamUri;
        AnnounceUpstreams(definitions);
        if (downstreamChanged)
        {
            if (_downstream.Session is not null)
            {
                await LeaveDownstreamAsync(previous, definitions).ConfigureAwait(false);
            }
            else
            {
                _definitions = definitions;
            }

            // An attempt at the previous downstream is of no use any more, and the new one starts with a clean schedule; the
            // failures so far count towards "up again after N failed attempts" only if the same broker is reached again.
            _downstream.CancelAttempt();
            _downstream.ResetBackoff(endFailureEpisode: DownstreamChange.ReachesAnotherBroker(previous, definitions));
            _downstream.Begin();
            return;
        }

        _definitions = definitions;
        if (_downstream.Session is null)
        {
            // Not connected (yet): links start once the downstream is; try now rather than at the next retry.
            _downstream.Begin();
            return;
        }

        await ReconcileAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Which brokers the configured upstreams reach, with which kinds of queue, for the heartbeats: an instance whose reload
    /// moves a link to another broker, or switches its kind of queue, keeps the old queue only for instances whose upstream
    /// still reaches it with that kind (see <see cref="LinkOwnership.OthersRunningFrom"/>).
    /// </summary>
    private void AnnounceUpstreams(FederationDefinitions definitions)
    {
        if (_ownership is not null)
        {
            _ownership.Upstreams = UpstreamFingerprints.Of(definitions.Upstreams.Values.Select(u => (u.UpstreamName, u.Uris)), _transports.CoarseUpstreamQueueKind);
        }
    }

    /// <summary>
    /// Stops the links and closes the downstream connection, for a reload that changes the downstream settings; the next
    /// connection starts the links again. Loop only, while connected.
    /// </summary>
    private async Task LeaveDownstreamAsync(FederationDefinitions previous, FederationDefinitions definitions)
    {
        _definitions = definitions;
        var keepsLinks = false;
        if (_lastSession is { } running)
        {
            keepsLinks = DownstreamChange.KeepsLinks(running, definitions, PreviewDownstream);
            if (!keepsLinks && DownstreamChange.OnlyConnectingTells(running, definitions, PreviewDownstream))
            {
                // The same downstream written another way (the machine's name for 127.0.0.1, another node of the cluster)
                // is the same downstream: taken for another one, every link's ledger went, and what was published before
                // the reload and again after it crossed twice. The links run on while the broker is asked.
                var names = await SameDownstreamNamesAsync(definitions).ConfigureAwait(false);
                if (_stopping.IsCancellationRequested)
                {
                    // A stop is no evidence either way: the links are left to it, which stops them as any stop does,
                    // rather than retired as for another downstream (their ledgers dropped, their queues handed over).
                    return;
                }

                if (names == (running.ClusterName, running.VirtualHost))
                {
                    Log.DownstreamReachedAnotherWay(_logger, UriRedaction.Redact(definitions.DownstreamUri), running.ClusterName, running.VirtualHost);
                    keepsLinks = true;

                    // The new definitions name the session's downstream: until the new connection, its links are listed
                    // with the ids they keep (KnownDownstream), not as unknown.
                    _lastSession = running with { Definitions = definitions, NameKnownWithoutConnecting = null };
                }
            }
        }

        // Listed before the links stop, so that no status request in between finds none: the links that come back with
        // the same ids, or those of the new downstream as far as its URI tells.
        ShowPendingLinks();
        if (keepsLinks)
        {
            // Only how the engine reaches the downstream changed (credentials, query keys such as heartbeat, another address
            // of the same cluster and vhost): the links keep their ids, upstream queues and ledgers, as for an upstream
            // credential change. The rest of the reload is applied first, on the connection the links still run on, so
            // that a link it removes cleans up there; then every link stops keeping its queue and its drop counts, and
            // starts again on the new connection.
            await ReconcileAsync().ConfigureAwait(false);
            await _links.StopAllForReconnectAsync().ConfigureAwait(false);
        }
        else
        {
            // Another downstream, or another cluster name (queue names and loop detection depend on it): start over.
            // Stop the links first, while they still have their sessions; the new links use other ids and queues, so the
            // old queues go once the new ones are bound: forwarded on the same broker and vhost, else discarded, and said so.
            // Make before break: each old queue stays bound until the new link's queue is (see RetiredUpstreamQueues).
            await _links.StopAllForNewDownstreamAsync(sameDownstream: !DownstreamChange.ReachesAnotherBroker(previous, definitions)).ConfigureAwait(false);
        }

        await _downstream.DisconnectAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The cluster name and virtual host the downstream of <paramref name="definitions"/> advertises (see
    /// <see cref="DownstreamCluster"/>); null when it cannot tell, or when the engine stops meanwhile. Loop only.
    /// </summary>
    private async Task<(string ClusterName, string VirtualHost)?> SameDownstreamNamesAsync(FederationDefinitions definitions)
    {
        try
        {
            return await DownstreamCluster.NamesAsync(definitions.DownstreamUri, _transports, _logger, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>A fresh downstream connection: take it into use, then reconcile the links against it. Loop only.</summary>
    private async Task OnDownstreamConnectedAsync(int number, string uri, IBrokerConnection connection)
    {
        _ownership?.DownstreamConnected();
        try
        {
            await TakeIntoUseAsync(number, connection).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Any failure to take the connection into use is logged and retried, or ends in the stop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await _downstream.AbandonAsync(uri, connection, ex).ConfigureAwait(false);
            return;
        }

        try
        {
            await ReconcileAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            // The downstream is fine; the links are reconciled again at the next change.
            Log.ReconfigurationFailed(_logger, ex);
        }
        finally
        {
            // Connected: the links that run report for themselves (cleared only now, so that none goes unlisted meanwhile).
            _pending.Clear();
        }
    }

    /// <summary>
    /// The downstream session, or a connection being taken into use, went away: its topology is no longer followed, and
    /// the links that do not run are listed as pending. Loop only.
    /// </summary>
    private void OnDownstreamReleased()
    {
        _topology.Unfollow();
        ShowPendingLinks();
    }

    /// <summary>
    /// Lists the links the definitions ask for on the downstream as far as it is known without a connection (see
    /// <see cref="KnownDownstream"/>), as pending; none when nothing is known or the engine stops. A link that runs is
    /// listed as it runs instead. Loop only, while the downstream is not connected or about to be left.
    /// </summary>
    private void ShowPendingLinks()
    {
        if (_stopping.IsCancellationRequested || KnownDownstream() is not { } known)
        {
            _pending.Clear();
            return;
        }

        _pending.Show(DesiredLinks.Resolve(_definitions, known.Exchanges, known.ClusterName, known.VirtualHost).Values, _links.ReconnectingDropsOf);
    }

    /// <summary>
    /// The downstream the definitions name, as far as it is known without connecting: the last session's identity and the
    /// exchanges the mirror holds from it while the definitions still name the same downstream (a new password, say), else
    /// what its URI tells (<see cref="ITransport.PreviewDownstream"/>) with the configured cluster name; in explicit mode
    /// the exchanges are the declared ones. Null when the cluster name or vhost is not known: the links' ids would be guesses.
    /// </summary>
    private (string ClusterName, string VirtualHost, IEnumerable<ExchangeSpec> Exchanges)? KnownDownstream()
    {
        var preview = PreviewDownstream(_definitions.DownstreamUri);
        if (_lastSession is { } last && DownstreamChange.KeepsLinks(last, _definitions, PreviewDownstream))
        {
            // Exchanges the URI itself names (NATS `namespaces`) are the current ones: a reload may have changed them
            // while keeping the downstream, and the mirror still holds the old session's.
            var exchanges = _explicitTopology?.Exchanges ?? (preview is { Exchanges.Count: > 0 } ? preview.Exchanges : _topology.Exchanges.ToList());
            return (last.ClusterName, last.VirtualHost, exchanges);
        }

        return preview is not null && (_definitions.ClusterName ?? preview.ClusterName) is { } clusterName
            ? (clusterName, preview.VirtualHost, _explicitTopology?.Exchanges ?? preview.Exchanges)
            : null;
    }

    private DownstreamPreview? PreviewDownstream(string uri)
    {
        try
        {
            return _transports.Resolve(uri).PreviewDownstream(uri);
        }
#pragma warning disable CA1031 // A transport's preview only adds status entries: whatever it throws, the engine goes on without them.
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    /// <summary>Topology subscription, snapshot, session, explicit declarations; only then do the links see the session. Loop only.</summary>
    private async Task TakeIntoUseAsync(int number, IBrokerConnection connection)
    {
        var topology = _topology.SourceFor(connection);
        var clusterName = _downstream.ClusterNameOf(connection);
        var snapshot = await _topology.FollowAsync(number, topology).ConfigureAwait(false);
        var session = _downstream.Adopt(connection, clusterName);
        if (_declarer is not null)
        {
            // Declared again after every reconnect: the broker may have restarted without them.
            await _declarer.DeclareAllAsync(session, snapshot).ConfigureAwait(false);
        }

        _topology.Load(snapshot);
        _lastSession = new DownstreamChange.Running(_definitions, session.ClusterName, session.VirtualHost, DownstreamChange.KnownClusterName(_definitions, PreviewDownstream));
        _downstream.Publish(number, session);
    }

    /// <summary>Reconciles the running links against the definitions and the mirrored exchanges. Loop only.</summary>
    private async Task ReconcileAsync()
    {
        if (_downstream.Session is not { } session || _stopping.IsCancellationRequested)
        {
            return;
        }

        await _links.ReconcileAsync(session, _definitions, _topology.Exchanges, _topology.BindingsOf, InstanceName, _stopping.Token).ConfigureAwait(false);
    }
}
