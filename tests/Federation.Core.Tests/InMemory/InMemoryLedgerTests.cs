using System.Diagnostics;
using Federation.Core.InMemory;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.InMemory;

/// <summary>
/// The in-memory delivery ledger: its drop-head bound and compaction, and a commit whose cost does not grow with the
/// records the ledger holds (a black-box run of the README's LinkThroughput benchmark measured an on-confirm link with
/// duplicate suppression, the default, at 228 µs per message against 3.2 µs without it, because each commit summed every
/// record under the virtual host's lock).
/// </summary>
public sealed class InMemoryLedgerTests
{
    // The size of one entry in the link's records (LedgerRecord.EntrySize).
    private const int RecordSize = 24;

    [Fact]
    public async Task Records_over_MaxBytes_drop_the_oldest_and_the_newest_always_stays()
    {
        var connection = await new InMemoryBroker("ledger-bound").ConnectAsync(connectionName: "app");
        await using var ledger = await connection.OpenLedgerAsync(new LedgerOptions("ledger", 3 * RecordSize), CancellationToken.None);
        Assert.NotNull(ledger);

        for (byte i = 1; i <= 5; i++)
        {
            await ledger.PublishAndRecordAsync([], Record(i), CancellationToken.None);
        }

        Assert.Equal([3, 4, 5], (await ledger.ReadAsync(CancellationToken.None)).Select(r => r.Span[0]));

        // A record larger than the bound on its own is kept: the newest always stays.
        await ledger.PublishAndRecordAsync([], new byte[4 * RecordSize], CancellationToken.None);
        Assert.Single(await ledger.ReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Compaction_replaces_the_records_read_and_keeps_those_recorded_after_the_read()
    {
        var connection = await new InMemoryBroker("ledger-compaction").ConnectAsync(connectionName: "app");
        await using var ledger = await connection.OpenLedgerAsync(new LedgerOptions("ledger", 1_000_000), CancellationToken.None);
        Assert.NotNull(ledger);
        await ledger.PublishAndRecordAsync([], Record(1), CancellationToken.None);
        await ledger.PublishAndRecordAsync([], Record(2), CancellationToken.None);

        Assert.Equal(2, (await ledger.ReadAsync(CancellationToken.None)).Count);
        await ledger.PublishAndRecordAsync([], Record(3), CancellationToken.None);
        await ledger.CompactAsync([Record(9)], CancellationToken.None);

        Assert.Equal([9, 3], (await ledger.ReadAsync(CancellationToken.None)).Select(r => r.Span[0]));
    }

    [Fact]
    public async Task A_commit_costs_about_as_much_with_a_full_ledger_as_with_a_nearly_empty_one()
    {
        var connection = await new InMemoryBroker("ledger-cost").ConnectAsync(connectionName: "app");
        // 40,000 records of 24 bytes stay under the bound a link gives its ledger (4.8 MB), so none is dropped; the small
        // ledger's bound keeps it at two records. Both take the same calls.
        await using var full = await connection.OpenLedgerAsync(new LedgerOptions("full", 4_800_000), CancellationToken.None);
        await using var small = await connection.OpenLedgerAsync(new LedgerOptions("small", 2 * RecordSize), CancellationToken.None);
        Assert.NotNull(full);
        Assert.NotNull(small);
        for (var i = 0; i < 40_000; i++)
        {
            await full.PublishAndRecordAsync([], Record(1), CancellationToken.None);
        }

        // The best of several rounds of each, so that a pause of the shared machine does not decide the ratio.
        var fullTime = TimeSpan.MaxValue;
        var smallTime = TimeSpan.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            smallTime = Min(smallTime, await TimeCommitsAsync(small));
            fullTime = Min(fullTime, await TimeCommitsAsync(full));
        }

        // Summing 40,000 records at each commit made the full ledger's commits well over 20 times slower.
        Assert.True(
            fullTime < smallTime * 5 + TimeSpan.FromMilliseconds(5),
            $"1,000 commits took {fullTime.TotalMilliseconds:F1} ms into a ledger of 40,000 records and {smallTime.TotalMilliseconds:F1} ms into one of two");
    }

    private static async Task<TimeSpan> TimeCommitsAsync(IDeliveryLedger ledger)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 1_000; i++)
        {
            await ledger.PublishAndRecordAsync([], Record(1), CancellationToken.None);
        }

        return clock.Elapsed;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static byte[] Record(byte first)
    {
        var record = new byte[RecordSize];
        record[0] = first;
        return record;
    }
}
