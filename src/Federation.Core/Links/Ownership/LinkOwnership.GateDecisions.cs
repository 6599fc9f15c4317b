namespace Federation.Core.Links.Ownership;

/// <summary>
/// What a link's gate (<see cref="LinkPlacementGate"/>) asks of the ownership: whether the link may try its lease now or
/// stands by, and for whom; which instance placement puts it on and which runs it; and whether a link held here is to be
/// handed over. All of it from placement, the roster's heartbeats, and the gate's own history.
/// </summary>
internal sealed partial class LinkOwnership
{
    /// <summary>Whether the link may try its lease now; otherwise why it stands by, and on whom.</summary>
    internal bool MayTry(LinkPlacementGate gate, out string? preferred, out string? reason)
    {
        lock (_sync)
        {
            return MayTryUnderLock(gate, _time.GetUtcNow(), out preferred, out reason);
        }
    }

    /// <summary><see cref="MayTry"/> for a caller that holds <see cref="Sync"/> already.</summary>
    internal bool MayTryWhileLocked(LinkPlacementGate gate) => MayTryUnderLock(gate, _time.GetUtcNow(), out _, out _);

    private bool MayTryUnderLock(LinkPlacementGate gate, DateTimeOffset now, out string? preferred, out string? reason)
    {
        var (placed, rank) = Place(gate);
        preferred = placed;
        reason = null;
        if (_asideFor is { } first)
        {
            preferred = Instance;
            var why = StandingAsideText(first);
            reason = $"{char.ToLowerInvariant(why[0])}{why[1..]} and runs the links under it; this run ({Incarnation}) stands aside, asks for no lease, and takes over when that run stops. {NamesakeFix}, or leave it unset (machine:pid)";
            return false;
        }

        if (gate.YieldTo is { } yielded)
        {
            if (_roster.HoldersOf(gate.LinkId, now).Contains(yielded, StringComparer.Ordinal))
            {
                // Its lease here would be granted again (it lives elsewhere than the other holder's): asking would only run
                // the link twice once more. It asks when that instance no longer says it holds the link (stopped, died, or
                // its configuration was fixed).
                reason = $"instance '{yielded}' holds this link as well, under a lease that does not exclude lease '{gate.LeaseName}' of this instance (another lease-bucket or other lease settings on the downstream URI, or another configuration that names the link alike), so the link ran twice; this instance yields to '{yielded}' (the first by name) and asks for the lease again once that instance no longer holds the link";
                return false;
            }

            gate.YieldTo = null;
        }

        var runner = gate.Failing ? RunnerUnderLock(gate, placed, now) : null;
        if (gate.Failing && runner is null)
        {
            // It failed here and let the lease go, but no live instance claims the link any more (the one that took it left,
            // or an instance of an older version let go as well): nobody will run it if this one stands by, so it asks for
            // the lease now, and retries at the link's own backoff, its status the error it fails with. It still does not
            // claim the link: a heartbeat missed for a moment must not make the others hand it back here. Should an instance
            // that has the link turn up, this one lets go for it again at its next failure.
            gate.StandbySince = null;
            return true;
        }

        if (gate.Failing)
        {
            // It failed here: another instance that has the link may take the lease first; this one asks again only as a fallback.
            gate.StandbySince ??= now;
            var retry = Timings.FallbackAfter * (Math.Max(rank, 1) + 1);
            if (now - gate.StandbySince.Value >= retry)
            {
                gate.FallbackTry = true;
                return true;
            }

            reason = $"it failed on this instance ({gate.FailingCause}), so it stands by for instance '{runner}', which has the link, to take lease '{gate.LeaseName}'; it asks for the lease again every {retry.TotalSeconds:0} s in case it does not, and at once if no other instance has the link any more";
            return false;
        }

        if (placed is null || placed == Instance)
        {
            gate.StandbySince = null;
            return true;
        }

        gate.StandbySince ??= now;
        if (!_roster.MayRun(placed, gate.LinkId) && now - gate.StandbySince.Value >= NotClaimedGrace)
        {
            // The preferred instance has neither held nor asked for the link for two heartbeats (another configuration,
            // say): nobody is worth standing by for. The lease decides; if the preferred instance asks later, the link is
            // handed to it. The grace lets an instance with the same links, which asks at once, claim them first.
            return true;
        }

        var fallback = Timings.FallbackAfter * Math.Max(rank, 1);
        if (now - gate.StandbySince.Value >= fallback)
        {
            gate.FallbackTry = true;
            return true;
        }

        reason = $"placement puts it on instance '{placed}', which takes lease '{gate.LeaseName}'; this instance stands by, and asks for the lease itself every {fallback.TotalSeconds:0} s in case nobody holds it";
        return false;
    }

    /// <summary>How long a link stands by for a preferred instance whose heartbeats do not claim it: two heartbeats.</summary>
    private TimeSpan NotClaimedGrace => Timings.HeartbeatEvery * 2;

    /// <summary>The instance placement puts the link on, or null when unknown.</summary>
    internal string? PreferredFor(LinkPlacementGate gate)
    {
        lock (_sync)
        {
            return Place(gate).Preferred;
        }
    }

    /// <summary>
    /// The other live instance that runs, or is about to run, a link this one stands by for, as its heartbeats say: the
    /// instance placement puts the link on, if its heartbeats claim the link; else one that holds the lease; else any other
    /// that claims it (see <see cref="InstanceRoster.HavingLink"/>). Null when no live instance claims it: placement alone does
    /// not make an instance run a link it does not have (another configuration on the same downstream).
    /// </summary>
    internal string? RunnerFor(LinkPlacementGate gate)
    {
        lock (_sync)
        {
            return RunnerUnderLock(gate, Place(gate).Preferred, _time.GetUtcNow());
        }
    }

    private string? RunnerUnderLock(LinkPlacementGate gate, string? placed, DateTimeOffset now)
    {
        // The earlier run of this name runs the links under it.
        if (_asideFor is not null)
        {
            return Instance;
        }

        // A link this instance yielded runs on the holder it yielded to, whatever placement says.
        if (gate.YieldTo is { } yielded && _roster.HoldersOf(gate.LinkId, now).Contains(yielded, StringComparer.Ordinal))
        {
            return yielded;
        }

        // The status keeps what this says when the link starts standing by, and placement, unlike a holder about to hand the
        // link over, is stable: the placed instance first, as long as it claims the link at all.
        var having = _roster.HavingLink(gate.LinkId, now);
        if (placed is not null && having.Contains(placed, StringComparer.Ordinal))
        {
            return placed;
        }

        var holders = _roster.HoldersOf(gate.LinkId, now);
        return holders.Count > 0 ? holders[0] : having.Count > 0 ? having[0] : null;
    }

    private bool ShouldHandOverUnderLock(LinkPlacementGate gate, DateTimeOffset now)
    {
        var (placed, _) = Place(gate);
        if (placed is null || placed == Instance || !_roster.IsSettled(placed, now))
        {
            return false;
        }

        if (!_roster.Wants(placed, gate.LinkId))
        {
            // The preferred instance does not run this link (another configuration on the same downstream), or has not
            // asked for it yet: handing it over would only stop it until a fallback takes it back.
            return false;
        }

        var target = (placed, _roster.IncarnationOf(placed));
        if (gate.NotTakenBy == target)
        {
            return false; // Handed over to it before, and it did not take the link: keep it rather than bounce it.
        }

        gate.HandedTo = target;
        return true;
    }

    /// <summary>
    /// The run <paramref name="incarnation"/> of <paramref name="instance"/> says it holds <paramref name="holding"/>: the
    /// links among them that this instance handed to that run were taken. A fallback ask that brings one of them back later
    /// (that run let it go: a reload dropped it there) is then no handover left untaken (see
    /// <see cref="LinkPlacementGate.Acquired"/>), and the link goes to that run again when it asks for it again.
    /// </summary>
    /// <remarks>
    /// Kept until then, the handover read as untaken whenever the fallback ask came while the other run's last heartbeat
    /// still said it held the link, and the link never went back to that run (black-box run on RabbitMQ, 7 Dec 2026: the
    /// spread stayed 1/3/1 for more than a minute after a reload gave a host its link back).
    /// </remarks>
    private void ForgetTakenHandoversUnderLock(string instance, string incarnation, IReadOnlySet<string> holding)
    {
        foreach (var gate in _gates)
        {
            if (gate.HandedTo is { } handedTo
                && string.Equals(handedTo.Instance, instance, StringComparison.Ordinal)
                && string.Equals(handedTo.Incarnation, incarnation, StringComparison.Ordinal)
                && holding.Contains(gate.LinkId))
            {
                gate.HandedTo = null;
            }
        }
    }

    private (string? Preferred, int Rank) Place(LinkPlacementGate gate)
    {
        _placement ??= LinkPlacement.Assign(_gates.Select(g => g.LinkId), _live);
        if (!_placement.TryGetValue(gate.LinkId, out var preferred))
        {
            // A link newer than the placement: its first choice until the next tick places it with the others.
            preferred = LinkPlacement.Preference(gate.LinkId, _live)[0];
        }

        if (gate.RankVersion != _placementVersion)
        {
            var others = LinkPlacement.Preference(gate.LinkId, _live).Where(i => i != preferred).ToList();
            gate.Rank = others.IndexOf(Instance) + 1;
            gate.RankVersion = _placementVersion;
        }

        return (preferred, gate.Rank);
    }
}
