using Federation.Core.Links.Ownership;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Links.Ownership;

/// <summary>
/// An instance whose own heartbeats stop coming back through the downstream (a frozen or half-open downstream connection,
/// a partition) cannot tell that the others went silent. Placement forgets them after the presence timeout as ever (keeping
/// them in the roster kept an instance heard again after a downstream restart from being handed its links: a CI run failed
/// on DownstreamRestartSpreadTests), but a stop meanwhile keeps the upstream queues they had (black-box run, 7 Dec 2026: a
/// SIGTERM 8 s into a frozen downstream connection deleted them, 2,408 of 10,000 messages lost), and health says so.
/// </summary>
public sealed class DeafInstanceTests
{
    private static readonly OwnershipTimings Timings = OwnershipTimings.Default;
    private static readonly HashSet<string> NoLinks = [];

    [Fact]
    public void An_instance_that_stops_hearing_itself_keeps_the_queues_of_the_others_it_last_heard_but_places_without_them()
    {
        var time = new FakeTimeProvider();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.Heard("host-a", ownership.Incarnation);
        ownership.Heard("host-b", "b-run", waiting: new HashSet<string> { "l1" }, holding: NoLinks);
        ownership.Tick();
        Assert.Equal(["host-b"], ownership.OthersRunning("l1"));

        // Nothing comes back any more, its own heartbeats neither: the others' silence says nothing.
        for (var second = 0; second < 20; second++)
        {
            time.Advance(Timings.HeartbeatEvery);
            ownership.Tick();
        }

        Assert.Equal(["host-b"], ownership.OthersRunning("l1"));
        Assert.Equal(["host-a"], ownership.LiveInstances);

        // Its own heartbeats come back and host-b's do not: host-b is gone for the cleanup too.
        ownership.Heard("host-a", ownership.Incarnation);
        ownership.Tick();
        Assert.Empty(ownership.OthersRunning("l1"));
        Assert.Equal(["host-a"], ownership.LiveInstances);
    }

    [Fact]
    public void Others_heard_before_its_own_last_heartbeat_are_kept_for_the_cleanup_too()
    {
        // Its own heartbeat came back last, just after host-b's: it stops hearing anything when host-b's silence would
        // reach the presence timeout first (a frozen downstream, measured: the roster emptied 2 s into the freeze).
        var time = new FakeTimeProvider();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.Heard("host-b", "b-run", waiting: new HashSet<string> { "l1" }, holding: NoLinks);
        time.Advance(Timings.HeartbeatEvery - TimeSpan.FromMilliseconds(10));
        ownership.Heard("host-a", ownership.Incarnation);
        for (var step = 0; step < 100; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            ownership.Tick();
        }

        Assert.Equal(["host-b"], ownership.OthersRunning("l1"));
        Assert.Empty(ownership.OthersRunning("l2"));
    }

    [Fact]
    public void An_instance_forgotten_unconfirmed_and_heard_again_is_live_again()
    {
        var time = new FakeTimeProvider();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.Heard("host-a", ownership.Incarnation);
        ownership.Heard("host-b", "b-run", waiting: new HashSet<string> { "l1" }, holding: NoLinks);
        time.Advance(Timings.LiveFor + Timings.HeartbeatEvery);
        ownership.Tick();
        Assert.Equal(["host-a"], ownership.LiveInstances);

        ownership.Heard("host-a", ownership.Incarnation);
        ownership.Heard("host-b", "b-run", waiting: NoLinks, holding: new HashSet<string> { "l2" });
        ownership.Tick();
        Assert.Equal(["host-a", "host-b"], ownership.LiveInstances);
        Assert.Empty(ownership.OthersRunning("l1")); // its last heartbeat, not the forgotten one, says which links it has
        Assert.Equal(["host-b"], ownership.OthersRunning("l2"));
    }

    [Fact]
    public void An_instance_that_never_heard_itself_forgets_silent_instances_after_the_presence_timeout_as_before()
    {
        var time = new FakeTimeProvider();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.Heard("host-b", "b-run", waiting: new HashSet<string> { "l1" }, holding: NoLinks);
        ownership.Tick();
        Assert.Equal(["host-b"], ownership.OthersRunning("l1"));

        time.Advance(Timings.LiveFor + Timings.HeartbeatEvery);
        ownership.Tick();
        Assert.Empty(ownership.OthersRunning("l1"));
        Assert.Equal(["host-a"], ownership.LiveInstances);
    }

    [Fact]
    public void An_instance_that_hears_itself_forgets_others_silent_for_the_presence_timeout()
    {
        var time = new FakeTimeProvider();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.Heard("host-a", ownership.Incarnation);
        ownership.Heard("host-b", "b-run", waiting: new HashSet<string> { "l1" }, holding: NoLinks);
        for (var second = 0; second < 5; second++)
        {
            time.Advance(Timings.HeartbeatEvery);
            ownership.Heard("host-a", ownership.Incarnation);
            ownership.Tick();
        }

        Assert.Empty(ownership.OthersRunning("l1"));
        Assert.Equal(["host-a"], ownership.LiveInstances);
    }

    [Fact]
    public void Not_hearing_itself_for_the_presence_timeout_is_reported_and_hearing_itself_again_clears_it()
    {
        var time = new FakeTimeProvider();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.DownstreamConnected();
        Assert.Null(ownership.OwnHeartbeatsUnheard); // never heard itself: nothing to compare with
        ownership.Heard("host-a", ownership.Incarnation);

        time.Advance(Timings.LiveFor);
        Assert.Null(ownership.OwnHeartbeatsUnheard);
        time.Advance(Timings.HeartbeatEvery);
        var unheard = ownership.OwnHeartbeatsUnheard;
        Assert.NotNull(unheard);
        Assert.Contains("this instance (host-a) has not heard its own heartbeat", unheard, StringComparison.Ordinal);
        Assert.Contains("frozen", unheard, StringComparison.Ordinal);

        ownership.Heard("host-a", ownership.Incarnation);
        Assert.Null(ownership.OwnHeartbeatsUnheard);

        // A heartbeat of another run under the same name is not this run's own.
        time.Advance(Timings.LiveFor + Timings.HeartbeatEvery);
        ownership.Heard("host-a", "another-run");
        Assert.NotNull(ownership.OwnHeartbeatsUnheard);
    }

    [Fact]
    public void A_downstream_connection_just_taken_into_use_has_the_presence_timeout_to_carry_one()
    {
        // After a long loss of the downstream the last heartbeat heard is old; the new connection has not had time yet.
        var time = new FakeTimeProvider();
        var ownership = new LinkOwnership("host-a", Timings, time);
        ownership.DownstreamConnected();
        ownership.Heard("host-a", ownership.Incarnation);
        time.Advance(TimeSpan.FromMinutes(5));
        ownership.DownstreamConnected();
        Assert.Null(ownership.OwnHeartbeatsUnheard);

        time.Advance(Timings.LiveFor + Timings.HeartbeatEvery);
        Assert.NotNull(ownership.OwnHeartbeatsUnheard);
    }
}
