using Federation.Core.Links.Ownership;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Links.Ownership;

/// <summary>
/// A link is handed to an instance's run at most once if that run never took it (the fallback ask brought it back): it
/// stays where it runs rather than bounce. A run that did take it (its heartbeats said it held the link) and later gave it
/// up (a reload dropped the link there) is not such a run: when it wants the link again, it is handed the link again, however
/// the link came back here. A black-box run of three FederationHost processes on RabbitMQ (7 Dec 2026) saw the spread stay
/// 1/3/1 for more than a minute after a reload returned a link: the instance that had handed it to the reloaded one at
/// start took it back by its fallback ask (which came while the reloaded one's last heartbeat still said it held it), still
/// remembered that handover, and read it as one never taken.
/// </summary>
public sealed class HandoverTakenTests
{
    private static readonly OwnershipTimings Timings = OwnershipTimings.Default;
    private static readonly HashSet<string> NoLinks = [];

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void A_run_that_took_the_link_is_handed_it_again_after_the_fallback_ask_took_it_back()
    {
        var link = PlacedOnHostB();
        var a = new LinkOwnership("host-a", Timings, _time);
        var gate = a.Register(link, "lease");
        HandToHostB(a, gate, link);

        // host-b takes the link: its heartbeats say it holds it.
        Beat(a, waiting: NoLinks, holding: Only(link));

        // A reload drops the link on host-b, which lets go of the lease moments before host-a's fallback ask comes: its
        // last heartbeat still says it holds the link, so host-a asks as the fallback, and gets the lease.
        Assert.True(BeatUntil(a, () => gate.MayTry(out _), Timings.FallbackAfter * 2, waiting: NoLinks, holding: Only(link)));
        gate.Acquired();
        Assert.Null(gate.TakeNotTakenNotice()); // host-b took the link: its handover is no reason to keep it here
        Beat(a, waiting: NoLinks, holding: NoLinks);

        // A second reload brings the link back on host-b, which asks for it: it is handed back.
        Assert.True(BeatUntil(a, () => gate.HandoverRequested, Timings.HeartbeatEvery * 3, waiting: Only(link), holding: NoLinks), "not handed back to host-b");
        Assert.Equal("host-b", gate.HandedToInstance);
    }

    [Fact]
    public void A_run_that_never_took_the_link_is_not_handed_it_twice()
    {
        var link = PlacedOnHostB();
        var a = new LinkOwnership("host-a", Timings, _time);
        var gate = a.Register(link, "lease");
        HandToHostB(a, gate, link);

        // host-b keeps saying it waits for the link, and never holds it: the fallback ask takes it back.
        Assert.True(BeatUntil(a, () => gate.MayTry(out _), Timings.FallbackAfter * 2, waiting: Only(link), holding: NoLinks));
        gate.Acquired();
        Assert.Equal("host-b", gate.TakeNotTakenNotice()); // said once (event 1034)
        Assert.Null(gate.TakeNotTakenNotice());

        Assert.False(BeatUntil(a, () => gate.HandoverRequested, Timings.FallbackAfter, waiting: Only(link), holding: NoLinks), "handed to host-b a second time");
    }

    [Fact]
    public void A_later_run_of_the_instance_is_handed_the_link_though_the_earlier_never_took_it()
    {
        var link = PlacedOnHostB();
        var a = new LinkOwnership("host-a", Timings, _time);
        var gate = a.Register(link, "lease");
        HandToHostB(a, gate, link);
        Assert.True(BeatUntil(a, () => gate.MayTry(out _), Timings.FallbackAfter * 2, waiting: Only(link), holding: NoLinks));
        gate.Acquired();

        // host-b restarts: a new run, which is handed the link once it is settled.
        Assert.True(BeatUntil(a, () => gate.HandoverRequested, Timings.SettleAfter + (Timings.HeartbeatEvery * 3), waiting: Only(link), holding: NoLinks, incarnation: "b-run-2"));
    }

    private static HashSet<string> Only(string link) => new(StringComparer.Ordinal) { link };

    /// <summary>A link id that placement puts on host-b, of host-a and host-b.</summary>
    private static string PlacedOnHostB() =>
        Enumerable.Range(0, 100).Select(i => $"link-{i}").First(id => LinkPlacement.Preference(id, ["host-a", "host-b"])[0] == "host-b");

    /// <summary>host-a runs the link alone; host-b starts and asks for it; once host-b is settled, host-a hands it over.</summary>
    private void HandToHostB(LinkOwnership a, LinkPlacementGate gate, string link)
    {
        a.Heard("host-a", a.Incarnation);
        Assert.True(gate.MayTry(out _));
        gate.Acquired();

        Assert.True(BeatUntil(a, () => gate.HandoverRequested, Timings.SettleAfter + (Timings.HeartbeatEvery * 3), waiting: Only(link), holding: NoLinks), "never handed to host-b");
        Assert.Equal("host-b", gate.HandedToInstance);
        gate.Released();
        Assert.False(gate.MayTry(out _)); // it stands by for host-b
    }

    /// <summary>One heartbeat from host-b, then host-a's tick a heartbeat later.</summary>
    private void Beat(LinkOwnership a, IReadOnlySet<string> waiting, IReadOnlySet<string> holding, string incarnation = "b-run")
    {
        a.Heard("host-b", incarnation, waiting, holding, standingBy: NoLinks);
        _time.Advance(Timings.HeartbeatEvery);
        a.Heard("host-a", a.Incarnation);
        a.Tick();
    }

    /// <summary>Heartbeats from host-b saying the same, each followed by host-a's tick, until the condition holds or the time runs out.</summary>
    private bool BeatUntil(LinkOwnership a, Func<bool> condition, TimeSpan limit, IReadOnlySet<string> waiting, IReadOnlySet<string> holding, string incarnation = "b-run")
    {
        var until = _time.GetUtcNow() + limit;
        while (_time.GetUtcNow() <= until)
        {
            Beat(a, waiting, holding, incarnation);
            if (condition())
            {
                return true;
            }
        }

        return false;
    }
}
