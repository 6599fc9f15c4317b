namespace Federation.Core.Links.Deduplication;

/// <summary>
/// Revocations (see <see cref="LedgerReplay"/>) that a link has not stored in its ledger yet: the write right after the
/// failed commit failed too (the downstream connection went with it, say). The next session applies them to the window it
/// reads back and stores them before it consumes, so the revoked identities' redeliveries are forwarded again. Shared by
/// every session of a link, so kept as long as the link object (a crash of the host forgets them: see the README).
/// </summary>
internal sealed class PendingRevocations
{
    private readonly List<UInt128[]> _pending = [];
    private readonly Lock _sync = new();

    /// <summary>Adds a revocation that is not stored yet.</summary>
    public void Add(UInt128[] identities)
    {
        ArgumentNullException.ThrowIfNull(identities);
        lock (_sync)
        {
            _pending.Add(identities);
        }
    }

    /// <summary>The revocations not stored yet, oldest first.</summary>
    public UInt128[][] Snapshot()
    {
        lock (_sync)
        {
            return [.. _pending];
        }
    }

    /// <summary>Forgets these revocations (the same arrays as added): they are in the ledger now.</summary>
    public void Stored(IEnumerable<UInt128[]> stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        lock (_sync)
        {
            foreach (var revocation in stored)
            {
                _pending.Remove(revocation);
            }
        }
    }
}
