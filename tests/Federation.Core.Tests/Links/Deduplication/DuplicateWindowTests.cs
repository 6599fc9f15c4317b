using Federation.Core.Links.Deduplication;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Federation.Core.Tests.Links.Deduplication;

public sealed class DuplicateWindowTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static LedgerEntry Entry(int id, DateTimeOffset at) => new((uint)id, at.ToUnixTimeMilliseconds());

    [Fact]
    public void An_added_identity_is_contained_until_it_is_older_than_the_age()
    {
        var window = new DuplicateWindow(10, TimeSpan.FromMinutes(5));
        window.Add([Entry(1, Start)], Start);

        Assert.True(window.Contains(1, Start.AddMinutes(4)));
        Assert.False(window.Contains(2, Start.AddMinutes(4)));
        Assert.False(window.Contains(1, Start.AddMinutes(5)));
        Assert.Equal(0, window.Count);
    }

    [Fact]
    public void Entries_read_back_already_too_old_are_not_added()
    {
        var window = new DuplicateWindow(10, TimeSpan.FromMinutes(5));
        window.Add([Entry(1, Start.AddMinutes(-10)), Entry(2, Start.AddMinutes(-1))], Start);

        Assert.False(window.Contains(1, Start));
        Assert.True(window.Contains(2, Start));
    }

    [Fact]
    public void An_identity_added_twice_stays_until_its_newer_entry_leaves()
    {
        var window = new DuplicateWindow(2, TimeSpan.FromHours(1));
        window.Add([Entry(1, Start), Entry(1, Start.AddSeconds(1)), Entry(2, Start.AddSeconds(2))], Start.AddSeconds(2));

        // The first entry of 1 was pushed out by capacity; its second entry keeps it.
        Assert.True(window.Contains(1, Start.AddSeconds(2)));
        Assert.True(window.Contains(2, Start.AddSeconds(2)));
    }

    [Fact]
    public void The_snapshot_is_the_live_entries_oldest_first()
    {
        var window = new DuplicateWindow(3, TimeSpan.FromMinutes(5));
        window.Add([Entry(1, Start), Entry(2, Start.AddMinutes(2)), Entry(3, Start.AddMinutes(3)), Entry(4, Start.AddMinutes(4))], Start.AddMinutes(4));

        Assert.Equal([Entry(3, Start.AddMinutes(3)), Entry(4, Start.AddMinutes(4))], window.Snapshot(Start.AddMinutes(7.5)));
    }

    [Property]
    public Property Holds_exactly_the_newest_capacity_identities(PositiveInt capacity, int[] identities)
    {
        var window = new DuplicateWindow(capacity.Get, TimeSpan.FromDays(1));
        window.Add(identities.Select(i => Entry(i, Start)), Start);
        var newest = identities.Skip(Math.Max(0, identities.Length - capacity.Get)).ToHashSet();

        return identities.All(i => window.Contains((UInt128)(uint)i, Start) == newest.Contains(i))
            .Label($"newest {capacity.Get} of {identities.Length}")
            .And(window.Count == newest.Count);
    }
}
