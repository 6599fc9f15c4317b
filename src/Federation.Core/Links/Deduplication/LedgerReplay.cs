namespace Federation.Core.Links.Deduplication;

/// <summary>
/// What a ledger read back says was forwarded: its records' entries in queue order, less every entry that a later
/// revocation names. A unit whose commit failed in part (a downstream queue refused some of its messages, see
/// <see cref="Federation.Core.Transport.UnitPartlyCommittedException"/>) may have left its record in the ledger; its
/// revocation, appended after it, makes its identities count as not forwarded, so their redeliveries are forwarded again.
/// An entry recorded after the revocation (the identity forwarded again since) stays.
/// </summary>
internal static class LedgerReplay
{
    /// <summary>The entries that count, in queue order.</summary>
    /// <param name="records">The ledger's records, oldest first.</param>
    /// <param name="pending">Revocations not yet stored in the ledger (its write failed), newer than every record.</param>
    public static List<LedgerEntry> Entries(IReadOnlyList<ReadOnlyMemory<byte>> records, IReadOnlyCollection<IReadOnlyCollection<UInt128>> pending)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(pending);
        var entries = new List<LedgerEntry>();
        var revoked = new HashSet<UInt128>();
        foreach (var record in records)
        {
            if (LedgerRecord.TryDecode(record.Span, entries))
            {
                continue;
            }

            revoked.Clear();
            if (LedgerRecord.TryDecodeRevocation(record.Span, revoked))
            {
                Revoke(entries, revoked);
            }
        }

        foreach (var revocation in pending)
        {
            revoked.Clear();
            revoked.UnionWith(revocation);
            Revoke(entries, revoked);
        }

        return entries;
    }

    private static void Revoke(List<LedgerEntry> entries, HashSet<UInt128> revoked)
    {
        if (revoked.Count > 0)
        {
            entries.RemoveAll(entry => revoked.Contains(entry.Identity));
        }
    }
}
