using Federation.Core.Links.Deduplication;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Federation.Core.Tests.Links.Deduplication;

public sealed class LedgerRecordTests
{
    [Property]
    public Property Entries_round_trip(Guid[] identities, long[] times)
    {
        var entries = identities.Zip(times, (id, at) => new LedgerEntry(new UInt128((ulong)id.GetHashCode(), (ulong)id.ToString().Length + (ulong)at), at)).ToList();
        var decoded = new List<LedgerEntry>();
        return (LedgerRecord.TryDecode(LedgerRecord.Encode(entries), decoded) && decoded.SequenceEqual(entries)).ToProperty();
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 2 })]
    [InlineData(new byte[] { 1, 0, 0 })]
    public void A_foreign_record_is_skipped(byte[] record)
    {
        var decoded = new List<LedgerEntry>();
        Assert.False(LedgerRecord.TryDecode(record, decoded));
        Assert.Empty(decoded);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(LedgerRecord.EntriesPerPart, 1)]
    [InlineData(LedgerRecord.EntriesPerPart + 1, 2)]
    [InlineData(100_000, 37)]
    public void A_snapshot_comes_in_parts_of_at_most_64_KiB_that_together_hold_every_entry(int count, int parts)
    {
        var entries = Enumerable.Range(0, count).Select(i => new LedgerEntry((UInt128)i, i)).ToArray();

        var encoded = LedgerRecord.EncodeInParts(entries);

        Assert.Equal(parts, encoded.Count);
        Assert.All(encoded, part => Assert.InRange(part.Length, 1, 64 * 1024));
        var decoded = new List<LedgerEntry>();
        Assert.All(encoded, part => Assert.True(LedgerRecord.TryDecode(part.Span, decoded)));
        Assert.Equal(entries, decoded);
    }
}
