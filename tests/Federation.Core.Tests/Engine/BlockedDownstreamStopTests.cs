using System.Diagnostics;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A stop while the downstream blocks publishing (a memory or disk alarm: nothing it is sent is answered until the alarm
/// clears). Each step of a link's teardown that waits for the downstream used to get its own drain timeout (5 s): the
/// forwards in flight, the unit loop, the ledger's close and the publisher's close added up to 20 s, and the host's stop
/// to about 26 s, past a container's stop grace. Now they share one drain timeout.
/// </summary>
public sealed class BlockedDownstreamStopTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_link_stops_within_one_drain_timeout_while_the_downstream_answers_nothing()
    {
        UnansweringDownstreamTransport? transport = null;
        _bed.WrapTransport = inner => transport = new UnansweringDownstreamTransport(inner, "D");
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "before");
        await Testbed.Eventually(() => queue.Count == 1, () => $"{queue.Count} of 1");

        transport!.Block();
        try
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", "during", new MessageProperties { Persistent = true });
            await Testbed.Eventually(() => transport.CommitsHeld > 0, () => "the unit's commit should wait for the downstream");

            var clock = Stopwatch.StartNew();
            await engine.StopAsync(CancellationToken.None);

            // One drain timeout (5 s) for the session's downstream waits, then the lease release (5 s) and the downstream
            // connection's close (2 s), which keep bounds of their own: 12 s at worst, about 6 s as a rule. A fresh-clone run
            // of the whole suite on 2 loaded cores took 16 s, so the bound leaves room for that; the steps' own timeouts
            // summed to 17.5 s and more for the link alone before they shared one.
            Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(17));
        }
        finally
        {
            transport.Unblock();
        }
    }
}
