namespace Federation.Core.Links.Ownership;

/// <summary>
/// Instances of other federations on the same downstream (see <see cref="FederationBeacon"/>): which of them hold links
/// that carry what a link held here carries, so that the overlap is warned about (it is not stopped: which of the two
/// federations is the mistake is not for either to guess).
/// </summary>
internal sealed partial class LinkOwnership
{
    private readonly OtherFederations _otherFederations = new();

    /// <summary>A beacon of an instance of another federation on the same downstream (see <see cref="FederationBeacon"/>).</summary>
    public void HeardOtherFederation(FederationBeacon beacon)
    {
        ArgumentNullException.ThrowIfNull(beacon);
        lock (_sync)
        {
            _otherFederations.Heard(beacon, _time.GetUtcNow());
        }
    }

    /// <summary>The fingerprints of the links this instance holds and runs, for its beacon.</summary>
    public IReadOnlySet<string> HeldFlows()
    {
        lock (_sync)
        {
            return _gates.Where(g => g.State == GateState.Holding && !g.Failing).SelectMany(g => g.Flows).ToHashSet(StringComparer.Ordinal);
        }
    }

    /// <summary>
    /// Called with every heartbeat: forgets the other federations' runs that went silent, marks each link held here that a
    /// live run of another federation holds too (<see cref="LinkPlacementGate.AlsoFederatedBy"/>), and returns the runs whose
    /// overlap with this instance began or ended since the last call. Unlike two holders within one federation (see
    /// <see cref="Tick"/>) nothing is stopped: which of the two federations is the mistake is not for either to guess, and
    /// one of them may be meant (a second federation on purpose, or a rename under way).
    /// </summary>
    public IReadOnlyList<FederationOverlap> FindOtherFederations()
    {
        lock (_sync)
        {
            var now = _time.GetUtcNow();
            _otherFederations.Expire(now - Timings.LiveFor);
            var current = new Dictionary<string, (FederationBeacon Beacon, List<string> Links)>(StringComparer.Ordinal);
            foreach (var gate in _gates)
            {
                var others = gate.State == GateState.Holding && !gate.Failing ? _otherFederations.Overlapping(gate.Flows) : [];
                gate.FederatedWith = others.Count == 0 ? null : others;
                foreach (var other in others)
                {
                    if (!current.TryGetValue(other.Incarnation, out var entry))
                    {
                        current[other.Incarnation] = entry = (other, []);
                    }

                    entry.Links.Add(gate.Description);
                }
            }

            var changes = new List<FederationOverlap>();
            var reported = _otherFederations.Reported;
            foreach (var (incarnation, (beacon, links)) in current)
            {
                if (reported.TryAdd(incarnation, beacon))
                {
                    links.Sort(StringComparer.Ordinal);
                    changes.Add(new FederationOverlap(beacon.Cluster, beacon.Instance, links));
                }
            }

            foreach (var (incarnation, beacon) in reported.ToList())
            {
                if (!current.ContainsKey(incarnation))
                {
                    reported.Remove(incarnation);
                    changes.Add(new FederationOverlap(beacon.Cluster, beacon.Instance, null));
                }
            }

            return changes;
        }
    }
}
