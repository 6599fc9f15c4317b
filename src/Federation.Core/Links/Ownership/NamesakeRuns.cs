namespace Federation.Core.Links.Ownership;

/// <summary>
/// The live runs of other instances that announce themselves under this instance's own name (an operator's mistake: one
/// configuration, with its <c>InstanceName</c>, copied to several hosts), learned from their heartbeats. The roster goes by
/// name and cannot hold them; this tells them apart by incarnation, so that exactly one run of a name acts under it (see
/// <see cref="Preceding"/>) and a run that stops cleanly keeps the upstream queues for the other (see <see cref="HaveLink"/>).
/// </summary>
/// <remarks>Not thread-safe: <see cref="LinkOwnership"/> guards it with its lock.</remarks>
internal sealed class NamesakeRuns
{
    private readonly Dictionary<string, Run> _runs = new(StringComparer.Ordinal);

    /// <summary>How many runs are remembered (live, or silent for less than the presence timeout).</summary>
    public int Count => _runs.Count;

    /// <summary>Records a heartbeat of the run <paramref name="incarnation"/>. Returns true when that run is new.</summary>
    /// <param name="incarnation">The run.</param>
    /// <param name="started">When it started, as it says (null: a version that does not say, and does not stand aside either).</param>
    /// <param name="now">When it was heard.</param>
    /// <param name="links">The links it holds, waits or stands by for; null when its heartbeat does not say.</param>
    public bool Heard(string incarnation, DateTimeOffset? started, DateTimeOffset now, IReadOnlySet<string>? links)
    {
        var isNew = !_runs.ContainsKey(incarnation);
        _runs[incarnation] = new Run(incarnation, started, now, links);
        return isNew;
    }

    /// <summary>The run said it leaves (a clean stop). Returns true when it was known.</summary>
    public bool Left(string incarnation) => _runs.Remove(incarnation);

    /// <summary>Forgets the runs not heard since <paramref name="silentBefore"/>. Returns true when any was forgotten.</summary>
    public bool Expire(DateTimeOffset silentBefore)
    {
        var gone = _runs.Values.Where(r => r.LastHeard < silentBefore).Select(r => r.Incarnation).ToList();
        foreach (var incarnation in gone)
        {
            _runs.Remove(incarnation);
        }

        return gone.Count > 0;
    }

    /// <summary>
    /// The run this one stands aside for, or null when this one acts under the name: of all the runs of the name, the one
    /// that started first acts (ties broken by incarnation, ordinal). Every run reaches the same verdict from the same two
    /// values in the heartbeats, whatever the hosts' clocks say; a run that does not say when it started (a version before
    /// this rule) never stands aside, so the others stand aside for it.
    /// </summary>
    /// <param name="started">When this run started.</param>
    /// <param name="incarnation">This run.</param>
    public Run? Preceding(DateTimeOffset started, string incarnation) =>
        _runs.Values.Where(r => Precedes(r, started, incarnation))
            .OrderBy(r => r.Started ?? DateTimeOffset.MinValue).ThenBy(r => r.Incarnation, StringComparer.Ordinal)
            .FirstOrDefault();

    /// <summary>Whether a known run has <paramref name="linkId"/> (holds, waits or stands by for it, or does not say).</summary>
    public bool HaveLink(string linkId) => _runs.Values.Any(r => r.Links is null || r.Links.Contains(linkId));

    private static bool Precedes(Run run, DateTimeOffset started, string incarnation) =>
        run.Started is not { } theirs
        || theirs < started
        || (theirs == started && string.CompareOrdinal(run.Incarnation, incarnation) < 0);

    /// <summary>One run of this instance's name.</summary>
    /// <param name="Incarnation">The run.</param>
    /// <param name="Started">When it started, as its heartbeats say; null when they do not.</param>
    /// <param name="LastHeard">When this instance last heard it.</param>
    /// <param name="Links">Its links, by its last heartbeat; null when it does not say.</param>
    internal sealed record Run(string Incarnation, DateTimeOffset? Started, DateTimeOffset LastHeard, IReadOnlySet<string>? Links);
}
