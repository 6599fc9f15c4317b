using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Plays topology changes strictly in serial order, starting after a snapshot's serial, like the plugin's serialised
/// exchange events: changes the snapshot already covers are discarded and early arrivals wait for the gap to fill.
/// </summary>
internal sealed class TopologySequencer
{
    private readonly SortedDictionary<long, TopologyChange> _pending = [];
    private long _lastApplied;

    /// <summary>The serial of the last change handed out (or of the snapshot).</summary>
    public long LastApplied => _lastApplied;

    /// <summary>Changes waiting for an earlier serial.</summary>
    public int PendingCount => _pending.Count;

    /// <summary>Starts over from a snapshot: everything up to <paramref name="snapshotSerial"/> is covered by it.</summary>
    public void Reset(long snapshotSerial)
    {
        _lastApplied = snapshotSerial;
        var covered = _pending.Keys.Where(s => s <= snapshotSerial).ToList();
        foreach (var serial in covered)
        {
            _pending.Remove(serial);
        }
    }

    /// <summary>Accepts one change and returns the changes that are now ready, in order.</summary>
    public List<TopologyChange> Accept(TopologyChange change)
    {
        var ready = new List<TopologyChange>();
        if (change.Serial <= _lastApplied)
        {
            return ready;
        }

        _pending[change.Serial] = change;
        while (_pending.Remove(_lastApplied + 1, out var next))
        {
            ready.Add(next);
            _lastApplied = next.Serial;
        }

        return ready;
    }
}
