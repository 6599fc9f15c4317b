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
}
