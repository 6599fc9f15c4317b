using Federation.Core.Links.Ownership;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Links.Ownership;

/// <summary>
/// Which of several runs with one instance name acts under it: the one that started first, ties broken by incarnation,
/// decided by every run alike from the heartbeats; the others stand aside until it is gone (it leaves or goes silent).
/// </summary>
public sealed class NamesakeRunsTests
{
    private static readonly OwnershipTimings Timings = OwnershipTimings.Default;
    private readonly DateTimeOffset _t0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_run_that_started_first_acts_ties_go_to_the_first_incarnation_and_a_run_that_does_not_say_is_first()
    {
        var runs = new NamesakeRuns();
        Assert.True(runs.Heard("bbb", _t0, _t0, links: null));
        Assert.False(runs.Heard("bbb", _t0, _t0 + TimeSpan.FromSeconds(1), links: null));

        // Started later than "bbb": this run stands aside for it. Started earlier: it acts.
        Assert.Equal("bbb", runs.Preceding(_t0 + TimeSpan.FromMilliseconds(1), "aaa")?.Incarnation);
        Assert.Null(runs.Preceding(_t0 - TimeSpan.FromMilliseconds(1), "ccc"));

        // The same start: the incarnation that sorts first (ordinal) acts, as "bbb" computes too.
        Assert.Null(runs.Preceding(_t0, "aaa"));
        Assert.Equal("bbb", runs.Preceding(_t0, "ccc")?.Incarnation);

        // A run of a version that does not say when it started does not stand aside, so every newer run does.
        runs.Heard("zzz", started: null, _t0, links: null);
        Assert.Equal("zzz", runs.Preceding(_t0 - TimeSpan.FromDays(1), "aaa")?.Incarnation);
    }

    [Fact]
    public void A_run_is_forgotten_when_it_leaves_or_goes_silent_and_has_a_link_only_if_its_heartbeats_say_so()
    {
        var runs = new NamesakeRuns();
        runs.Heard("a", _t0, _t0, new HashSet<string> { "l1" });
        runs.Heard("b", _t0, _t0 + TimeSpan.FromSeconds(2), links: null);
        Assert.True(runs.HaveLink("l1"));
        Assert.True(runs.HaveLink("l2")); // "b" does not say which links it has

        Assert.True(runs.Left("b"));
        Assert.False(runs.HaveLink("l2"));
        Assert.False(runs.Expire(_t0 - TimeSpan.FromSeconds(1)));
        Assert.True(runs.Expire(_t0 + Timings.LiveFor));
        Assert.Equal(0, runs.Count);
        Assert.False(runs.HaveLink("l1"));
    }

    [Fact]
    public void An_ownership_stands_aside_for_an_earlier_run_once_and_acts_again_when_that_run_goes_silent()
    {
        var time = new FakeTimeProvider();
        var t0 = time.GetUtcNow();
        var ownership = new LinkOwnership("host-a", Timings, time);

        // A later run: this one acts, and hears of it once.
        var heard = ownership.HeardNamesake("later", t0 + TimeSpan.FromSeconds(5));
        Assert.Equal([NamesakeNoticeKind.Heard], heard.Select(n => n.Kind));
        Assert.Empty(ownership.HeardNamesake("later", t0 + TimeSpan.FromSeconds(5)));
        Assert.Null(ownership.StandingAsideFor);
        Assert.Contains("started first and runs the links", ownership.NamesakeConflict, StringComparison.Ordinal);

        // An earlier run: this one stands aside, said once however many heartbeats follow.
        var aside = ownership.HeardNamesake("earlier", t0 - TimeSpan.FromSeconds(5));
        Assert.Equal([NamesakeNoticeKind.StandingAside], aside.Select(n => n.Kind));
        for (var beat = 0; beat < 5; beat++)
        {
            time.Advance(Timings.HeartbeatEvery);
            Assert.Empty(ownership.HeardNamesake("earlier", t0 - TimeSpan.FromSeconds(5)));
            Assert.Empty(ownership.HeardNamesake("later", t0 + TimeSpan.FromSeconds(5)));
            Assert.Empty(ownership.ExpireNamesakes());
        }

        Assert.Equal("earlier", ownership.StandingAsideFor);
        Assert.Contains("Federation:InstanceName 'host-a'", ownership.NamesakeConflict, StringComparison.Ordinal);
        Assert.Contains("stands aside", ownership.NamesakeConflict, StringComparison.Ordinal);

        // The earlier run goes silent (killed): after the presence timeout this one acts again; "later" still stands aside.
        time.Advance(TimeSpan.FromSeconds(1));
        ownership.HeardNamesake("later", t0 + TimeSpan.FromSeconds(5));
        time.Advance(Timings.LiveFor);
        ownership.HeardNamesake("later", t0 + TimeSpan.FromSeconds(5));
        var resumed = ownership.ExpireNamesakes();
        Assert.Equal([NamesakeNoticeKind.Resumed], resumed.Select(n => n.Kind));
        Assert.Equal("earlier", resumed[0].Incarnation);
        Assert.Null(ownership.StandingAsideFor);
        Assert.Equal(1, ownership.NamesakesKept);
    }

    [Fact]
    public void A_run_that_stands_aside_acts_again_at_once_when_the_earlier_one_says_it_leaves()
    {
        var time = new FakeTimeProvider();
        var t0 = time.GetUtcNow();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.HeardNamesake("earlier", t0 - TimeSpan.FromSeconds(5));
        Assert.Equal("earlier", ownership.StandingAsideFor);
        Assert.Empty(ownership.LeftNamesake("unknown"));
        Assert.Equal([NamesakeNoticeKind.Resumed], ownership.LeftNamesake("earlier").Select(n => n.Kind));
        Assert.Null(ownership.StandingAsideFor);
        Assert.Null(ownership.NamesakeConflict);
    }
}
