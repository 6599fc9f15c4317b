using System.Buffers.Binary;

namespace Federation.Core.Links.Deduplication;

/// <summary>
/// The bytes of one ledger record: a version byte, then per entry the 16-byte identity and the 8-byte confirmation time
/// (both little-endian). A revocation has version byte 2, then the 16-byte identities it revokes: the identities of a
/// unit whose commit failed in part (see <see cref="LedgerReplay"/>). A record that does not parse is skipped, so a
/// foreign or future message in the ledger cannot stop a link; a host that predates revocations skips them that way.
/// </summary>
internal static class LedgerRecord
{
    private const byte Version = 1;
    private const byte RevocationVersion = 2;
    private const int IdentitySize = 16;

    /// <summary>Bytes per entry.</summary>
    public const int EntrySize = 24;

    /// <summary>
    /// Entries per record of a snapshot: 2,730, so that a record is at most 64 KiB (65,521 bytes). A full window of
    /// 100,000 entries is 2.4 MB, over the <c>max_message_size</c> many RabbitMQ operators set (1 MiB, say): in one record
    /// the broker refused it, and the link could not start again until the limit was raised.
    /// </summary>
    public const int EntriesPerPart = 2730;

    /// <summary>
    /// <paramref name="entries"/> as records of at most <see cref="EntriesPerPart"/> entries each, in order (one empty
    /// record when there are none). Records are a union, so the parts together mean what one record would.
    /// </summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> EncodeInParts(LedgerEntry[] entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var parts = new List<ReadOnlyMemory<byte>>((entries.Length / EntriesPerPart) + 1);
        var start = 0;
        do
        {
            var count = Math.Min(EntriesPerPart, entries.Length - start);
            parts.Add(Encode(new ArraySegment<LedgerEntry>(entries, start, count)));
            start += count;
        }
        while (start < entries.Length);

        return parts;
    }

    public static byte[] Encode(IReadOnlyCollection<LedgerEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var bytes = new byte[1 + (entries.Count * EntrySize)];
        bytes[0] = Version;
        var offset = 1;
        foreach (var entry in entries)
        {
            BinaryPrimitives.WriteUInt128LittleEndian(bytes.AsSpan(offset, 16), entry.Identity);
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset + 16, 8), entry.ConfirmedAtUnixMs);
            offset += EntrySize;
        }

        return bytes;
    }

    /// <summary>Decodes a record; false (and nothing added) when it is not a record of this version.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> record, List<LedgerEntry> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (record.Length == 0 || record[0] != Version || (record.Length - 1) % EntrySize != 0)
        {
            return false;
        }

        for (var offset = 1; offset < record.Length; offset += EntrySize)
        {
            into.Add(new LedgerEntry(
                BinaryPrimitives.ReadUInt128LittleEndian(record.Slice(offset, 16)),
                BinaryPrimitives.ReadInt64LittleEndian(record.Slice(offset + 16, 8))));
        }

        return true;
    }

    /// <summary>A revocation of <paramref name="identities"/>: entries for them recorded before it no longer count.</summary>
    public static byte[] EncodeRevocation(IReadOnlyCollection<UInt128> identities)
    {
        ArgumentNullException.ThrowIfNull(identities);
        var bytes = new byte[1 + (identities.Count * IdentitySize)];
        bytes[0] = RevocationVersion;
        var offset = 1;
        foreach (var identity in identities)
        {
            BinaryPrimitives.WriteUInt128LittleEndian(bytes.AsSpan(offset, IdentitySize), identity);
            offset += IdentitySize;
        }

        return bytes;
    }

    /// <summary>Decodes a revocation; false (and nothing added) when the record is not one.</summary>
    public static bool TryDecodeRevocation(ReadOnlySpan<byte> record, ISet<UInt128> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (record.Length == 0 || record[0] != RevocationVersion || (record.Length - 1) % IdentitySize != 0)
        {
            return false;
        }

        for (var offset = 1; offset < record.Length; offset += IdentitySize)
        {
            into.Add(BinaryPrimitives.ReadUInt128LittleEndian(record.Slice(offset, IdentitySize)));
        }

        return true;
    }
}
