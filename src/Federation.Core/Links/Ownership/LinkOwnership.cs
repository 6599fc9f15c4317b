namespace Federation.Core.Links.Ownership;

/// <summary>
/// One engine's part in sharing links with the other instances of the same federation: it knows the live instances (an
/// <see cref="InstanceRoster"/> fed by <see cref="InstancePresence"/>), places every link of this engine on one of them
/// (<see cref="LinkPlacement"/>), and through each link's <see cref="LinkPlacementGate"/> tells the link when to try its
/// lease and when to hand it over. The lease itself stays the only guarantee that a link runs once: placement only
/// decides who asks first, so engines that disagree for a moment (rosters are learned, not agreed) cost a refused lease
/// attempt, never a second runner.
/// </summary>
/// <remarks>Thread-safe: links call their gates from their own loops, presence calls <see cref="Heard"/> and <see cref="Tick"/>.</remarks>
internal sealed partial class LinkOwnership
{
    private readonly Lock _sync = new();
    private readonly InstanceRoster _roster;
    private readonly HashSet<LinkPlacementGate> _gates = [];
    private readonly TimeProvider _time;
    private IReadOnlyDictionary<string, string>? _placement;
    private List<string> _live;
    private int _placementVersion;
    private int _unsettled;
    private IReadOnlyDictionary<string, IReadOnlySet<string>>? _upstreams;

    // Whether some instance's last heartbeat said a link fails there (see Fails); may lag a silent instance's expiry, which
    // only costs a lock.
    private volatile bool _failingHeard;

    // Links came or went since placement was last computed. Placement is recomputed at the next tick rather than at each
    // one, so that a supervisor starting a thousand links does not compute it a thousand times.
    private bool _linksChanged;

    // When this run last heard its own heartbeat come back through the downstream; null until the first. See OwnHeartbeatsUnheard.
    private DateTimeOffset? _ownHeartbeatHeard;

    // When the current downstream connection was taken into use; see OwnHeartbeatsUnheard.
    private DateTimeOffset? _downstreamConnectedAt;

    public LinkOwnership(string instance, OwnershipTimings timings, TimeProvider time)
    {
        Instance = instance;
        Incarnation = Guid.NewGuid().ToString("N");
        Timings = timings;
        _time = time;
        Started = time.GetUtcNow();
        _roster = new InstanceRoster(timings);
        _live = [instance];
    }

    /// <summary>This engine's instance name.</summary>
    public string Instance { get; }

    /// <summary>This engine's run, so that a restarted instance with the same name reads as new.</summary>
    public string Incarnation { get; }

    public OwnershipTimings Timings { get; }

    /// <summary>When this run started, as its heartbeats say: of several runs with one name, the first acts (see <see cref="NamesakeRuns"/>).</summary>
    public DateTimeOffset Started { get; }

    /// <summary>The live instances, this one included, by name.</summary>
    public IReadOnlyList<string> LiveInstances
    {
        get
        {
            lock (_sync)
            {
                return _live;
            }
        }
    }

    /// <summary>Whether an instance's run <paramref name="incarnation"/> is still known: heard, and neither left nor expired since.</summary>
    public bool Knows(string incarnation)
    {
        lock (_sync)
        {
            return _roster.HasIncarnation(incarnation);
        }
    }

    /// <summary>
    /// The other live instances that still run, wait or stand by for <paramref name="linkId"/>, by their heartbeats (or do
    /// not say which links they have). A link this instance drops from its configuration, or stops with the engine, keeps its
    /// upstream queue for them: the next holder consumes what the queue buffered. Instances forgotten while this one could
    /// not hear its own heartbeats (see <see cref="InstanceRoster.HavingLinkOrUnconfirmed"/>) count as well.
    /// </summary>
    public IReadOnlyList<string> OthersRunning(string linkId)
    {
        lock (_sync)
        {
            // Instances forgotten while this one could not hear itself count too: deleting the queue under them loses data.
            var having = _roster.HavingLinkOrUnconfirmed(linkId, _time.GetUtcNow());

            // Another run of this instance's name takes the link over when this one stops: without it, a run that heard no
            // other instance cleaned up as the last one and deleted the upstream queue under it (measured: 326 of 5,000
            // messages lost at a SIGTERM).
            return _namesakes.HaveLink(linkId) ? [.. having, Instance] : having;
        }
    }

    /// <summary>When <paramref name="instance"/> was last heard, if it has gone silent without saying it leaves (see <see cref="InstanceRoster.SilentSince"/>).</summary>
    public DateTimeOffset? SilentSince(string instance)
    {
        lock (_sync)
        {
            return _roster.SilentSince(instance, _time.GetUtcNow());
        }
    }

    /// <summary>The silent instance whose last heartbeat said it held <paramref name="linkId"/>, while no live one does (see <see cref="InstanceRoster.SilentHolderOf"/>).</summary>
    public (string Instance, DateTimeOffset LastHeard)? SilentHolderOf(string linkId)
    {
        lock (_sync)
        {
            return _roster.SilentHolderOf(linkId, _time.GetUtcNow());
        }
    }

    /// <summary>
    /// The other live instances that have the link of <paramref name="definition"/> (see <see cref="OthersRunning"/>) with an
    /// upstream of the same name that reaches a broker of <paramref name="definition"/> with the same kind of upstream queue
    /// there: only they can consume its upstream queue once a reload moved this instance's link to another broker or
    /// switched its kind (NATS: <c>jetstream=true</c>). Instances that do not say which brokers their upstreams reach count,
    /// and so do those that do not say the kind (see <see cref="UpstreamFingerprints"/>).
    /// </summary>
    /// <param name="definition">The link as it ran here before the reload.</param>
    /// <param name="kindOf">The coarse kind of upstream queue a URI declares (<see cref="Transport.ITransport.CoarseUpstreamQueueKind"/>).</param>
    public IReadOnlyList<string> OthersRunningFrom(LinkDefinition definition, Func<string, string?> kindOf)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var name = UpstreamFingerprints.Name(definition.Upstream.UpstreamName);
        var brokers = UpstreamFingerprints.Brokers(definition.Upstream.Uris, kindOf);
        lock (_sync)
        {
            return _roster.HavingLinkFrom(definition.Id, name, brokers, _time.GetUtcNow(), unconfirmed: true);
        }
    }

    /// <summary>Which brokers this instance's upstreams reach, with which kinds of queue, hashed, for its heartbeats; null until the configuration is known.</summary>
    public IReadOnlyDictionary<string, IReadOnlySet<string>>? Upstreams
    {
        get => Volatile.Read(ref _upstreams);
        set => Volatile.Write(ref _upstreams, value);
    }

    /// <summary>The gate of a new link; its placement counts from now on.</summary>
    /// <param name="linkId">The link's id.</param>
    /// <param name="leaseName">The link's lease.</param>
    /// <param name="flows">What the link carries (<see cref="FlowFingerprints"/>), to notice other federations that carry it too.</param>
    /// <param name="description">The link as <c>exchange &lt;- upstream</c>, for the warning about such a federation.</param>
    public LinkPlacementGate Register(string linkId, string leaseName, IReadOnlySet<string>? flows = null, string? description = null)
    {
        var gate = new LinkPlacementGate(this, linkId, leaseName, flows ?? new HashSet<string>(), description ?? linkId);
        lock (_sync)
        {
            _gates.Add(gate);
            _linksChanged = true;
        }

        return gate;
    }

    internal void Unregister(LinkPlacementGate gate)
    {
        lock (_sync)
        {
            if (_gates.Remove(gate))
            {
                gate.WakeUnderLock();
                _linksChanged = true;
            }
        }
    }

    /// <summary>
    /// A heartbeat from <paramref name="instance"/>. This engine always counts itself; its own heartbeat only tells that the
    /// downstream still carries heartbeats (see <see cref="OwnHeartbeatsUnheard"/>).
    /// </summary>
    /// <param name="instance">The instance heard.</param>
    /// <param name="incarnation">Its run.</param>
    /// <param name="waiting">The links it waits for; null when its heartbeat does not say.</param>
    /// <param name="holding">The links it holds; null when its heartbeat does not say.</param>
    /// <param name="standingBy">Its other links, which it neither holds nor waits for; null when its heartbeat does not say.</param>
    /// <param name="failing">The links it holds whose runs fail there; null when its heartbeat does not say.</param>
    /// <param name="upstreams">The hashed brokers of its upstreams; null when its heartbeat does not say.</param>
    public void Heard(string instance, string incarnation, IReadOnlySet<string>? waiting = null, IReadOnlySet<string>? holding = null, IReadOnlySet<string>? standingBy = null, IReadOnlySet<string>? failing = null, IReadOnlyDictionary<string, IReadOnlySet<string>>? upstreams = null)
    {
        if (instance == Instance)
        {
            if (incarnation == Incarnation)
            {
                lock (_sync)
                {
                    _ownHeartbeatHeard = _time.GetUtcNow();
                    _roster.HeardSelf(_ownHeartbeatHeard.Value);
                }
            }

            return;
        }

        List<Action>? actions = null;
        lock (_sync)
        {
            if (_roster.Heard(instance, incarnation, _time.GetUtcNow(), waiting, holding, standingBy, failing, upstreams))
            {
                actions = RosterChangedUnderLock();
            }

            if (holding is { Count: > 0 })
            {
                ForgetTakenHandoversUnderLock(instance, incarnation, holding);
            }

            _failingHeard = _roster.AnyFailing();
        }

        Run(actions);
    }

    /// <summary><paramref name="instance"/> said it leaves: its links are placed elsewhere at once.</summary>
    public void Left(string instance, string incarnation)
    {
        List<Action>? actions = null;
        lock (_sync)
        {
            if (_roster.Left(instance, incarnation))
            {
                actions = RosterChangedUnderLock();
            }
        }

        Run(actions);
    }

    /// <summary>
    /// Called every <see cref="OwnershipTimings.HeartbeatEvery"/>: forgets silent instances, notices newly settled ones,
    /// and lets links whose fallback time came try their lease, and holders whose link belongs elsewhere hand it over.
    /// </summary>
    /// <returns>The links that became, or stopped being, held by another instance too (see <see cref="SharedHolding"/>).</returns>
    public IReadOnlyList<SharedHolding> Tick()
    {
        List<Action> actions;
        List<SharedHolding> shared;
        lock (_sync)
        {
            var now = _time.GetUtcNow();
            var unsettled = _roster.UnsettledCount(now);
            if (_roster.Expire(now, _ownHeartbeatHeard))
            {
                actions = RosterChangedUnderLock();
            }
            else if (_linksChanged)
            {
                actions = PlacementChangedUnderLock();
            }
            else
            {
                // An instance that just settled gets links handed over now: links polling for their lease look again at
                // once instead of at the end of their backoff.
                actions = EvaluateUnderLock(placementChanged: unsettled < _unsettled);
            }

            _unsettled = unsettled;
            shared = FindSharedUnderLock(now, actions);
        }

        Run(actions);
        return shared;
    }

    /// <summary>
    /// One consistent view, for a heartbeat, of this engine's links that want their lease and do not hold it (a lease attempt
    /// was refused since they last held it: the holder hands such a link over when placement puts it here), of those that
    /// hold it (others stand by for them), and of the rest (placement puts them elsewhere; an instance that drops one of
    /// them from its configuration keeps its upstream queue for this one, which takes the link over).
    /// </summary>
    public (IReadOnlySet<string> Waiting, IReadOnlySet<string> Holding, IReadOnlySet<string> StandingBy, IReadOnlySet<string> Failing) LinkClaims()
    {
        lock (_sync)
        {
            // A link that failed here is not claimed: the others then do not stand by for this instance, nor hand it back,
            // nor keep its upstream queue for it. One held here whose runs fail is claimed, and said to fail: the others
            // that wait for it show it down as well.
            return (_gates.Where(g => g.Wanting && !g.Failing).Select(g => g.LinkId).ToHashSet(StringComparer.Ordinal),
                    _gates.Where(g => g.State == GateState.Holding && !g.Failing).Select(g => g.LinkId).ToHashSet(StringComparer.Ordinal),
                    _gates.Where(g => !g.Wanting && g.State != GateState.Holding && !g.Failing).Select(g => g.LinkId).ToHashSet(StringComparer.Ordinal),
                    _gates.Where(g => g.State == GateState.Holding && !g.Failing && g.RunFailing).Select(g => g.LinkId).ToHashSet(StringComparer.Ordinal));
        }
    }

    /// <summary>Whether the live <paramref name="instance"/>'s heartbeats say that it holds <paramref name="linkId"/> and fails to run it.</summary>
    internal bool Fails(string instance, string linkId)
    {
        // Read for every waiting link's status, which a host may list often: without a lock while no instance says any fails.
        if (!_failingHeard)
        {
            return false;
        }

        lock (_sync)
        {
            return _roster.Fails(instance, linkId, _time.GetUtcNow());
        }
    }

    /// <summary>
    /// Whether another live instance has <paramref name="linkId"/>, as its heartbeats say (see <see cref="OthersRunning"/>):
    /// only then can a link that fails here run elsewhere if this instance lets its lease go.
    /// </summary>
    /// <remarks>A run that stands aside for this one's name does not count: it would not take the link.</remarks>
    internal bool OthersHave(string linkId)
    {
        lock (_sync)
        {
            return _roster.HavingLink(linkId, _time.GetUtcNow()).Count > 0;
        }
    }

    internal Lock Sync => _sync;

    internal DateTimeOffset Now => _time.GetUtcNow();

    private List<Action> RosterChangedUnderLock()
    {
        var live = _roster.Live(_time.GetUtcNow()).Append(Instance).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (live.SequenceEqual(_live, StringComparer.Ordinal))
        {
            return EvaluateUnderLock(placementChanged: false);
        }

        _live = live;
        return PlacementChangedUnderLock();
    }

    /// <summary>A downstream connection is taken into use: its heartbeats are awaited from now (<see cref="OwnHeartbeatsUnheard"/>).</summary>
    public void DownstreamConnected()
    {
        lock (_sync)
        {
            _downstreamConnectedAt = _time.GetUtcNow();
        }
    }

    /// <summary>
    /// While this run has heard its own heartbeat come back through the downstream before, but not for longer than the
    /// presence timeout, what that means, for health and status; null otherwise. The downstream still reads as connected (a
    /// frozen or half-open connection, a partition): the links this run holds may forward nothing, and the other instances,
    /// which do not hear it either, take them over (black-box run, 7 Dec 2026: a host with a frozen downstream connection
    /// reported Healthy with its links running for as long as the freeze lasted, while the others showed them in error).
    /// </summary>
    public string? OwnHeartbeatsUnheard
    {
        get
        {
            lock (_sync)
            {
                // Counted from the later of the last one heard and the current downstream connection's start: a connection
                // just opened after a long loss has had no time to carry one yet.
                if (_ownHeartbeatHeard is not { } heard)
                {
                    return null;
                }

                var silent = _time.GetUtcNow() - (_downstreamConnectedAt > heard ? _downstreamConnectedAt.Value : heard);
                if (silent <= Timings.LiveFor)
                {
                    return null;
                }

                var seconds = Math.Floor(silent.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var timeout = Timings.LiveFor.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
                return $"this instance ({Instance}) has not heard its own heartbeat come back through the downstream for {seconds} s "
                    + $"(the presence timeout is {timeout} s), though the connection reads as open: it may be frozen or cut off, the links "
                    + "it holds may forward nothing, and the other instances take them over";
            }
        }
    }

    private List<Action> PlacementChangedUnderLock()
    {
        _linksChanged = false;
        _placement = null;
        _placementVersion++;
        return EvaluateUnderLock(placementChanged: true);
    }

    /// <summary>Wakes the links that should act; the returned actions run outside the lock (cancellation runs callbacks).</summary>
    private List<Action> EvaluateUnderLock(bool placementChanged)
    {
        var actions = new List<Action>();
        var now = _time.GetUtcNow();
        foreach (var gate in _gates)
        {
            switch (gate.State)
            {
                // A standby link also wakes when placement changes, to show the instance it now expects to run it.
                case GateState.Standby when placementChanged || MayTryUnderLock(gate, now, out _, out _):
                case GateState.Polling when placementChanged:
                    gate.WakeUnderLock();
                    break;
                case GateState.Holding when gate.Handover is { IsCancellationRequested: false } handover && _asideFor is { } first:
                    gate.HandedTo = (Instance, first.Incarnation);
                    actions.Add(() => CancelQuietly(handover));
                    break;
                case GateState.Holding when gate.Handover is { IsCancellationRequested: false } handover && ShouldHandOverUnderLock(gate, now):
                    actions.Add(() => CancelQuietly(handover));
                    break;
            }
        }

        return actions;
    }

    private static void Run(List<Action>? actions)
    {
        if (actions is null)
        {
            return;
        }

        foreach (var action in actions)
        {
            action();
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The holding ended at this moment; nothing left to hand over.
        }
    }
}
