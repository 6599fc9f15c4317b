using Federation.Core.Links;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A stop while the downstream blocks publishing (a memory or disk alarm: nothing it is sent is answered until the alarm
/// clears). Each step of the stop that waits for the downstream used to get its own bound: the forwards in flight, the unit
/// loop, the ledger's close and the publisher's close (5 s each, 20 s together, until they shared one drain timeout), then
/// the lease release (5 s), saying "leaving" (2 s) and the connection's close (2 s). Now they all share the stop's
/// deadline (<see cref="StopDeadline"/>): one drain timeout, then one short grace for what begins after it.
/// </summary>
/// <remarks>
/// The time is the engine's, on a fake clock that the test moves, so the bound holds however loaded the machine is (the
/// real-time bound this test had measured the thread pool's queue once the ownership simulation ran beside it: 24 s). The
/// lease release, the "leaving" publisher's close and the connection's close never end here: a stop that waits for any of
/// them beyond its deadline does not end at all.
/// </remarks>
public sealed class BlockedDownstreamStopTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_link_stops_within_one_drain_timeout_while_the_downstream_answers_nothing()
    {
        UnansweringDownstreamTransport? transport = null;
        _bed.WrapTransport = inner => transport = new UnansweringDownstreamTransport(inner, "D");
        var (engine, queue) = await _bed.StartSimpleLinkAsync(time: _time);
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "before");
        await Testbed.Eventually(() => queue.Count == 1, () => $"{queue.Count} of 1");

        transport!.Block();
        try
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", "during", new MessageProperties { Persistent = true });
            await Testbed.Eventually(() => transport.CommitsHeld > 0, () => "the unit's commit should wait for the downstream");

            var deadlinesBefore = _time.TimersDueIn(StopDeadline.DrainTimeout);
            var stopping = Task.Run(() => engine.StopAsync(CancellationToken.None));
            await Testbed.Eventually(() => _time.TimersDueIn(StopDeadline.DrainTimeout) > deadlinesBefore, () => "the stop's deadline should start");
            _time.Advance(StopDeadline.DrainTimeout);

            // Past the deadline, the clock moves once more, by the grace, when the first step that begins after it (the lease
            // release) waits for it; then no more. (Nothing else of this engine is due half a second after the deadline: its
            // heartbeats come every second, on whole seconds of this clock.)
            await Testbed.Eventually(
                () => _time.TimersDueIn(StopDeadline.Grace) > 0,
                () => $"the stop should wait out one grace past its deadline, no more ({transport.ReleasesHeld} lease release(s) and {transport.ClosesHeld} close(s) wait for the downstream; stopped: {stopping.IsCompleted})");
            _time.Advance(StopDeadline.Grace);
            await stopping.WaitAsync(Testbed.Deadline);

            // The lease release and the connection's close did wait for the downstream: the stop ended without them, one
            // drain timeout and one grace after it began. The close runs on the thread pool (BlockingDownstreamCloseTests), and
            // a stop already past its deadline does not wait for it to begin: a CI run read no close held yet.
            Assert.Equal(1, transport.ReleasesHeld);
            await Testbed.Eventually(() => transport.ClosesHeld == 1, () => $"{transport.ClosesHeld} connection close(s) held by the downstream, expected 1");
        }
        finally
        {
            transport.Unblock();
        }
    }
}
