using Federation.Core.Links.Ownership;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Links.Ownership;

/// <summary>
/// An instance whose own heartbeats stop coming back through the downstream (a frozen or half-open downstream connection,
/// a partition) says so, for health (black-box run, 7 Dec 2026: such a host answered Healthy, its links running, while the
/// others showed them in error). It still forgets the others after the presence timeout, as an instance that hears itself
/// does: keeping them as last heard (so that a stop meanwhile kept the upstream queues they wait for) also kept an instance
/// heard again after a downstream restart from being handed its links (a CI run failed on DownstreamRestartSpreadTests).
/// </summary>
public sealed class DeafInstanceTests
{
    private static readonly OwnershipTimings Timings = OwnershipTimings.Default;
    private static readonly HashSet<string> NoLinks = [];

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
