namespace Federation.Core.Links.Ownership;

/// <summary>
/// The live instances of other federations on the same downstream, as their beacons (<see cref="FederationBeacon"/>) tell,
/// and which of them hold links that carry what a link of this instance carries. Not thread-safe: guarded by the
/// <see cref="LinkOwnership"/> lock.
/// </summary>
internal sealed class OtherFederations
{
    // Bounded, so that a client flooding the shared exchange with made-up runs cannot grow it without end; a real
    // downstream has a handful of federations with a handful of instances each.
    private const int MaxRuns = 256;

    private readonly Dictionary<string, (FederationBeacon Beacon, DateTimeOffset Heard)> _runs = new(StringComparer.Ordinal);

    /// <summary>Keeps <paramref name="beacon"/> as what its run says now.</summary>
    public void Heard(FederationBeacon beacon, DateTimeOffset now)
    {
        if (!_runs.ContainsKey(beacon.Incarnation) && _runs.Count >= MaxRuns)
        {
            // Forget the run heard least recently: a live one beats again within a second and comes back.
            _runs.Remove(_runs.MinBy(run => run.Value.Heard).Key);
        }

        _runs[beacon.Incarnation] = (beacon, now);
    }

    /// <summary>Forgets the runs not heard since <paramref name="cutoff"/> (stopped, or cut off from the downstream).</summary>
    public void Expire(DateTimeOffset cutoff)
    {
        foreach (var (incarnation, run) in _runs.ToList())
        {
            if (run.Heard < cutoff)
            {
                _runs.Remove(incarnation);
            }
        }
    }

    /// <summary>The live runs of other federations that hold a link with a fingerprint in <paramref name="flows"/>, ordered by cluster and instance.</summary>
    public IReadOnlyList<FederationBeacon> Overlapping(IReadOnlySet<string> flows)
    {
        if (_runs.Count == 0 || flows.Count == 0)
        {
            return [];
        }

        return _runs.Values
            .Select(run => run.Beacon)
            .Where(beacon => beacon.Flows.Overlaps(flows))
            .OrderBy(beacon => beacon.Cluster, StringComparer.Ordinal)
            .ThenBy(beacon => beacon.Instance, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The runs last reported as overlapping (see <see cref="LinkOwnership.FindOtherFederations"/>), by incarnation, with
    /// the beacon they were reported from: each is reported once when the overlap starts and once when it ends.
    /// </summary>
    public Dictionary<string, FederationBeacon> Reported { get; } = new(StringComparer.Ordinal);
}
