using Federation.Core.Links.Deduplication;
using Xunit;

namespace Federation.Core.Tests.Links.Deduplication;

public sealed class LedgerReplayTests
{
    private static readonly UInt128 A = new(1, 1);
    private static readonly UInt128 B = new(2, 2);
    private static readonly UInt128 C = new(3, 3);

    private static ReadOnlyMemory<byte> Entries(params (UInt128 Identity, long At)[] entries) =>
        LedgerRecord.Encode([.. entries.Select(e => new LedgerEntry(e.Identity, e.At))]);

    private static ReadOnlyMemory<byte> Revocation(params UInt128[] identities) => LedgerRecord.EncodeRevocation(identities);

    [Fact]
    public void A_revocation_takes_out_the_entries_recorded_before_it_and_keeps_the_ones_after_it()
    {
        // A unit [B, C] committed in part, revoked, and B forwarded again afterwards.
        var entries = LedgerReplay.Entries([Entries((A, 10)), Entries((B, 20), (C, 20)), Revocation(B, C), Entries((B, 30))], []);

        Assert.Equal([new LedgerEntry(A, 10), new LedgerEntry(B, 30)], entries);
    }

    [Fact]
    public void A_revocation_takes_out_every_earlier_entry_of_its_identities()
    {
        // An equal message forwarded twice (no message-id): the revoked unit's redelivery must not be found in the window.
        var entries = LedgerReplay.Entries([Entries((A, 10), (B, 10)), Entries((A, 20)), Revocation(A)], []);

        Assert.Equal([new LedgerEntry(B, 10)], entries);
    }

    [Fact]
    public void A_revocation_not_stored_yet_applies_after_every_record()
    {
        UInt128[] pending = [A];
        var entries = LedgerReplay.Entries([Entries((A, 10), (B, 10))], [pending]);

        Assert.Equal([new LedgerEntry(B, 10)], entries);
    }

    [Fact]
    public void A_ledger_without_revocations_reads_back_as_before()
    {
        var entries = LedgerReplay.Entries([Entries((A, 10)), Entries((B, 20), (A, 30))], []);

        Assert.Equal([new LedgerEntry(A, 10), new LedgerEntry(B, 20), new LedgerEntry(A, 30)], entries);
    }

    [Fact]
    public void A_host_that_predates_revocations_skips_them()
    {
        // What an older host runs on every record: it must not take a revocation for entries, nor fail on it.
        var decoded = new List<LedgerEntry>();
        Assert.False(LedgerRecord.TryDecode(Revocation(A, B).Span, decoded));
        Assert.Empty(decoded);
    }

    [Fact]
    public void Revocations_round_trip_and_entries_are_not_revocations()
    {
        var revoked = new HashSet<UInt128>();
        Assert.True(LedgerRecord.TryDecodeRevocation(Revocation(A, C).Span, revoked));
        Assert.Equal([A, C], revoked.Order());

        revoked.Clear();
        Assert.False(LedgerRecord.TryDecodeRevocation(Entries((A, 10)).Span, revoked));
        Assert.False(LedgerRecord.TryDecodeRevocation(new byte[] { 2, 0, 0 }, revoked));
        Assert.Empty(revoked);
    }
}
