namespace Federation.Core.Links.Ownership;

/// <summary>
/// Links held here and, at the same time, by another instance of this federation (two leases that do not exclude each
/// other): found at every tick, reported (see <see cref="SharedHolding"/>), and ended by all holders but the first by
/// name letting go.
/// </summary>
internal sealed partial class LinkOwnership
{
    /// <summary>
    /// Compares the links this instance holds with those the other live instances say they hold. A lease has one holder, so
    /// a link on both lists means two leases that do not exclude each other. A heartbeat may lag a handover by one beat, so
    /// only an overlap that lasts longer than the presence timeout counts. Then the link runs twice (duplicates downstream,
    /// two consumers on one upstream queue), so all holders but one stop it: the one whose instance name sorts first
    /// (ordinal) keeps it. Every holder computes that from the same heartbeats without talking to the others, so exactly
    /// one keeps running; an instance of an older version that does not yield at worst leaves the link running twice, as
    /// before.
    /// </summary>
    private List<SharedHolding> FindSharedUnderLock(DateTimeOffset now, List<Action> actions)
    {
        var changes = new List<SharedHolding>();
        foreach (var gate in _gates)
        {
            // A link that fails here is not claimed in this instance's heartbeats, and does not run: it is not held twice.
            var others = gate.State == GateState.Holding && !gate.Failing ? _roster.HoldersOf(gate.LinkId, now) : [];
            if (others.Count == 0)
            {
                gate.SharedSince = null;
                if (gate.SharedWith is not null)
                {
                    gate.SharedWith = null;

                    // A holder that yielded let go itself: the other holder runs the link, and nothing is held twice here.
                    if (gate.YieldTo is null)
                    {
                        changes.Add(new SharedHolding(gate.LinkId, gate.LeaseName, null));
                    }
                }

                continue;
            }

            gate.SharedSince ??= now;
            if (now - gate.SharedSince.Value <= Timings.LiveFor)
            {
                continue;
            }

            if (!(gate.SharedWith?.SequenceEqual(others, StringComparer.Ordinal) ?? false))
            {
                gate.SharedWith = others;
                changes.Add(new SharedHolding(gate.LinkId, gate.LeaseName, others));
            }

            // Two heartbeats later than the warning: the holder that keeps the link has seen the overlap by then too (its
            // clock started within a beat of this one's), so both warn before the yield ends it.
            if (now - gate.SharedSince.Value > Timings.LiveFor + (Timings.HeartbeatEvery * 2)
                && YieldsTo(others) is { } winner && gate.YieldTo is null && gate.Handover is { IsCancellationRequested: false } handover)
            {
                gate.YieldTo = winner;
                actions.Add(() => CancelQuietly(handover));
            }
        }

        return changes;
    }

    /// <summary>The holder this instance yields a link held twice to (the first by name, ordinal), or null when it keeps it.</summary>
    private string? YieldsTo(IReadOnlyList<string> otherHolders) =>
        otherHolders.Count > 0 && string.CompareOrdinal(otherHolders[0], Instance) < 0 ? otherHolders[0] : null;
}
