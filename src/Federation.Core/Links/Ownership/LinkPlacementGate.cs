namespace Federation.Core.Links.Ownership;

/// <summary>
/// One link's view of <see cref="LinkOwnership"/>: whether to ask for the lease now, how long to wait before asking again,
/// and when to hand the link over. Used by the link's run loop (through <see cref="LinkLease"/>) only; its state is guarded
/// by the ownership's lock.
/// </summary>
internal sealed class LinkPlacementGate : IDisposable
{
    private readonly LinkOwnership _owner;

    internal LinkPlacementGate(LinkOwnership owner, string linkId, string leaseName, IReadOnlySet<string> flows, string description)
    {
        _owner = owner;
        LinkId = linkId;
        LeaseName = leaseName;
        Flows = flows;
        Description = description;
    }

    public string LinkId { get; }

    /// <summary>What the link carries (<see cref="FlowFingerprints"/>).</summary>
    public IReadOnlySet<string> Flows { get; }

    /// <summary>The link as <c>exchange &lt;- upstream</c>, for logs.</summary>
    public string Description { get; }

    /// <summary>The link's lease, for status text.</summary>
    public string LeaseName { get; }

    /// <summary>This engine's instance name.</summary>
    public string Instance => _owner.Instance;

    /// <summary>The instance placement puts the link on, as far as this engine knows.</summary>
    public string? Preferred => _owner.PreferredFor(this);

    /// <summary>
    /// The other live instance whose heartbeats claim this link (see <see cref="LinkOwnership.RunnerFor"/>), for the status
    /// of a link that stands by; null when none does.
    /// </summary>
    public string? RunningOn => _owner.RunnerFor(this);

    /// <summary>Cancelled when the link should hand its lease over; a fresh one for each holding.</summary>
    public CancellationToken HandoverToken
    {
        get
        {
            lock (_owner.Sync)
            {
                return Handover?.Token ?? CancellationToken.None;
            }
        }
    }

    /// <summary>Whether the current holding was asked to hand over.</summary>
    public bool HandoverRequested
    {
        get
        {
            lock (_owner.Sync)
            {
                return Handover?.IsCancellationRequested == true;
            }
        }
    }

    /// <summary>The instance the link was last handed over to.</summary>
    public string? HandedToInstance
    {
        get
        {
            lock (_owner.Sync)
            {
                return HandedTo?.Instance;
            }
        }
    }

    /// <summary>
    /// The instance this one yields the link to (see <see cref="LinkOwnership.Tick"/>): both held the link's lease (their leases
    /// do not exclude each other), and that one's name sorts first. Set while the link is asked to stop for it and while it
    /// stands by for it; null otherwise.
    /// </summary>
    public string? YieldingTo
    {
        get
        {
            lock (_owner.Sync)
            {
                return YieldTo;
            }
        }
    }

    /// <summary>
    /// The other live instances whose heartbeats have said, for longer than the presence timeout, that they hold this link's
    /// lease while this instance holds it too (see <see cref="SharedHolding"/>); null otherwise.
    /// </summary>
    public IReadOnlyList<string>? AlsoHeldBy
    {
        get
        {
            lock (_owner.Sync)
            {
                return SharedWith;
            }
        }
    }

    /// <summary>
    /// The live instances of other federations on this downstream that hold a link carrying what this one carries, while
    /// this instance holds it (see <see cref="LinkOwnership.FindOtherFederations"/>), as <c>instance 'x' of federation 'y'</c>;
    /// null otherwise.
    /// </summary>
    public IReadOnlyList<string>? AlsoFederatedBy
    {
        get
        {
            lock (_owner.Sync)
            {
                return FederatedWith?.Select(FederationOverlap.Describe).ToList();
            }
        }
    }

    // State below: guarded by the owner's lock.

    /// <summary>The other federations' runs that hold a link carrying what this one carries; null while none does.</summary>
    internal IReadOnlyList<FederationBeacon>? FederatedWith { get; set; }

    internal GateState State { get; set; }

    internal TaskCompletionSource? Wake { get; set; }

    internal CancellationTokenSource? Handover { get; set; }

    internal DateTimeOffset? StandbySince { get; set; }

    internal bool FallbackTry { get; set; }

    /// <summary>A lease attempt was refused and the lease has not been held since: this engine waits for the link.</summary>
    internal bool Wanting { get; set; }

    /// <summary>
    /// This engine held the lease and could not run the link (see <see cref="GaveUp"/>), and has not run it since: it
    /// neither claims the link in its heartbeat nor asks for the lease while another instance may run it.
    /// </summary>
    internal bool Failing { get; set; }

    /// <summary>Why the link failed here, for the standby reason.</summary>
    internal string? FailingCause { get; set; }

    /// <summary>
    /// This engine holds the lease and the link's last run failed (it is in error): the heartbeats say so, so that the
    /// instances waiting for it show it down too. Cleared when it runs, and when the lease goes.
    /// </summary>
    internal bool RunFailing { get; set; }

    /// <summary>
    /// The instance's run this engine last handed the link to, until that run's heartbeats say it holds the link (see
    /// <see cref="LinkOwnership.Heard"/>) or this engine takes the lease again: a fallback ask that takes it back meanwhile
    /// finds a handover that was never taken (<see cref="NotTakenBy"/>).
    /// </summary>
    internal (string Instance, string? Incarnation)? HandedTo { get; set; }

    /// <summary>The instance's run that was handed the link and never took it: the link is not handed to that run again.</summary>
    internal (string Instance, string? Incarnation)? NotTakenBy { get; set; }

    /// <summary>The instance of a <see cref="NotTakenBy"/> set by the last <see cref="Acquired"/>, until <see cref="TakeNotTakenNotice"/> reads it.</summary>
    private string? NotTakenNotice { get; set; }

    /// <summary>Since when another instance's heartbeats say it holds the link while this one does; null while none does.</summary>
    internal DateTimeOffset? SharedSince { get; set; }

    /// <summary>The other holders, once <see cref="SharedSince"/> lasted past the presence timeout.</summary>
    internal IReadOnlyList<string>? SharedWith { get; set; }

    /// <summary>
    /// The other holder this instance yields the link to: it stops the link, and stands by without asking for its lease while
    /// that instance's heartbeats say it holds the link. Kept across the release, unlike <see cref="Handover"/>.
    /// </summary>
    internal string? YieldTo { get; set; }

    internal int Rank { get; set; }

    internal int RankVersion { get; set; } = -1;

    /// <summary>Whether to ask for the lease now; otherwise why not.</summary>
    public bool MayTry(out string? reason) => _owner.MayTry(this, out _, out reason);

    /// <summary>Waits until placement lets this engine ask for the lease (or its fallback time comes).</summary>
    public Task StandbyAsync(CancellationToken cancellationToken) => WaitAsync(GateState.Standby, null, cancellationToken);

    /// <summary>After a refusal: waits <paramref name="delay"/>, or less when placement changes meanwhile.</summary>
    public Task PollAfterAsync(TimeSpan delay, TimeProvider time, CancellationToken cancellationToken) => WaitAsync(GateState.Polling, (delay, time), cancellationToken);

    /// <summary>The lease was refused: a fallback try starts its wait again.</summary>
    public void Refused()
    {
        lock (_owner.Sync)
        {
            Wanting = true;
            if (FallbackTry)
            {
                FallbackTry = false;
                StandbySince = _owner.Now;
            }
        }
    }

    /// <summary>The lease was taken: from now on the link may be asked to hand over.</summary>
    public void Acquired()
    {
        lock (_owner.Sync)
        {
            if (FallbackTry && HandedTo is { } handedTo)
            {
                // The run we handed the link to never said it held it, and a fallback took it back: no second handover to it.
                NotTakenBy = handedTo;
                NotTakenNotice = handedTo.Instance;
            }

            FallbackTry = false;
            Wanting = false;
            HandedTo = null;
            StandbySince = null;
            State = GateState.Holding;
            Handover?.Dispose();
            Handover = new CancellationTokenSource();
        }
    }

    /// <summary>
    /// The instance whose run was handed the link and never took it, when the lease just taken was taken back from it by the
    /// fallback ask (the link then stays here, and is not handed to that run again: see <see cref="NotTakenBy"/>); null
    /// otherwise. Read once: for the one log line that says why the link no longer goes where placement puts it.
    /// </summary>
    public string? TakeNotTakenNotice()
    {
        lock (_owner.Sync)
        {
            var notice = NotTakenNotice;
            NotTakenNotice = null;
            return notice;
        }
    }

    /// <summary>
    /// The link failed here again and again while holding the lease, and another live instance has it: it lets go so that
    /// one of them may run it (its own configuration, say, is what fails: a queue argument the upstream refuses, a missing
    /// stream). Until the link runs here again, this instance stops claiming it, so nobody stands by for it or hands it
    /// back, and it asks for the lease only as a fallback, when nobody else took it, or at once when no other live instance
    /// claims the link any more (see <see cref="LinkOwnership.MayTry"/>).
    /// </summary>
    public void GaveUp(string cause)
    {
        lock (_owner.Sync)
        {
            Failing = true;
            FailingCause = cause;
            StandbySince = _owner.Now;
        }
    }

    /// <summary>The link runs here: it is claimed again as usual.</summary>
    public void Succeeded()
    {
        lock (_owner.Sync)
        {
            Failing = false;
            FailingCause = null;
            RunFailing = false;
        }
    }

    /// <summary>A run failed while this engine holds the lease: its heartbeats say the link fails here until it runs again.</summary>
    public void RunFailed()
    {
        lock (_owner.Sync)
        {
            RunFailing = State == GateState.Holding;
        }
    }

    /// <summary>
    /// Whether <paramref name="instance"/> holds this link and its heartbeats say its runs fail there: a link that waits for
    /// it here runs nowhere, and shows down.
    /// </summary>
    public bool FailsOn(string instance) => _owner.Fails(instance, LinkId);

    /// <summary>When <paramref name="instance"/> (the holder of this link's lease) was last heard, if it has gone silent since.</summary>
    public DateTimeOffset? SilentSince(string instance) => _owner.SilentSince(instance);

    /// <summary>
    /// The instance that went silent while its heartbeats said it held this link, and when it was last heard, while no live
    /// instance says it holds the link: the link then runs nowhere, whoever this instance stands by for.
    /// </summary>
    public (string Instance, DateTimeOffset LastHeard)? SilentHolder => _owner.SilentHolderOf(LinkId);

    /// <summary>
    /// Whether another live instance has this link, as its heartbeats say (it holds it, waits or stands by for it), so that
    /// giving the link up may let it run elsewhere. An instance with another configuration does not count: given up for
    /// it, the link would run nowhere.
    /// </summary>
    public bool OthersHaveLink => _owner.OthersHave(LinkId);

    /// <summary>Whether this run stands aside for an earlier run of its instance name (see <see cref="NamesakeRuns"/>): it runs no link.</summary>
    public bool StandingAside => _owner.StandingAsideFor is not null;

    /// <summary>The lease is no longer held (released, handed over or lost).</summary>
    public void Released()
    {
        lock (_owner.Sync)
        {
            State = GateState.Idle;
            RunFailing = false;
            Handover?.Dispose();
            Handover = null;
        }
    }

    /// <summary>Leaves the placement: the link stopped for good.</summary>
    public void Dispose()
    {
        _owner.Unregister(this);
        lock (_owner.Sync)
        {
            Handover?.Dispose();
            Handover = null;
        }
    }

    internal void WakeUnderLock()
    {
        Wake?.TrySetResult();
        Wake = null;
        State = GateState.Idle;
    }

    private async Task WaitAsync(GateState state, (TimeSpan Delay, TimeProvider Time)? timeout, CancellationToken cancellationToken)
    {
        TaskCompletionSource wake;
        lock (_owner.Sync)
        {
            if (state == GateState.Standby && _owner.MayTryWhileLocked(this))
            {
                return; // Placement changed between the caller's check and now.
            }

            wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Wake = wake;
            State = state;
        }

        try
        {
            if (timeout is { } t)
            {
                using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var delayed = Task.Delay(t.Delay, t.Time, delay.Token);
                await Task.WhenAny(delayed, wake.Task).ConfigureAwait(false);
                await delay.CancelAsync().ConfigureAwait(false); // Frees the timer when the wake came first.
                cancellationToken.ThrowIfCancellationRequested();
            }
            else
            {
                await wake.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (_owner.Sync)
            {
                if (ReferenceEquals(Wake, wake))
                {
                    Wake = null;
                    State = GateState.Idle;
                }
            }
        }
    }
}
