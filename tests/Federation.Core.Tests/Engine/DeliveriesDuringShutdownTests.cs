using Federation.Core.Links;
using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A delivery that arrives once a session has stopped forwarding (it is shutting down for a stop or restart) and that
/// cannot go back upstream (no-ack: the broker removed it as it sent it) is never lost silently: the consumer is stopped
/// first, so such a delivery stays upstream for the next session, and one already on its way is counted as dropped.
/// </summary>
public sealed class DeliveriesDuringShutdownTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private HeldConfirmsTransport _held = null!;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _held = new HeldConfirmsTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var pending in _held.Held)
        {
            pending.TrySetResult();
        }

        await _bed.DisposeAsync();
    }

    /// <summary>
    /// A no-ack link that restarts while a forward is in flight: during the drain wait (up to 5 s) the upstream consumer
    /// used to go on delivering, and the session returned those deliveries (already removed upstream) without forwarding
    /// or counting them.
    /// </summary>
    [Fact]
    public async Task A_no_ack_delivery_that_arrives_while_the_session_shuts_down_is_forwarded_or_counted()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.NoAck; u.PrefetchCount = 100; });
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "held");
        await queue.ExpectAsync("held"); // written downstream, its publish held: one forward in flight

        var before = engine.GetLinks()[0].Since;
        Assert.True(await engine.RestartLinkAsync(engine.GetLinks()[0].Id, CancellationToken.None));
        var during = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            await Task.Delay(50); // pacing is the scenario: publishes spread over the shutdown's 5 s drain wait, not a wait for a condition
            during.Add($"during{i}");
            await Testbed.PublishAsync(publisher, "upstream", "key", $"during{i}");
        }

        foreach (var pending in _held.Held)
        {
            pending.TrySetResult();
        }

        // The status says running throughout the shutdown: wait for the next session's running.
        await Testbed.Eventually(() => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Since > before, () => $"{engine.GetLinks()[0].State}");
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        await Testbed.PublishAsync(publisher, "upstream", "key", "after");
        await Testbed.Eventually(
            () =>
            {
                foreach (var pending in _held.Held)
                {
                    pending.TrySetResult();
                }

                return queue.Bodies.Contains("after");
            },
            () => "the message after the restart should arrive");

        var missing = during.Where(b => !queue.Bodies.Contains(b)).ToList();
        var dropped = engine.GetLinks()[0].DroppedMessages?.Values.Sum() ?? 0;
        Assert.True(missing.Count <= dropped, $"{missing.Count} messages neither forwarded nor counted as dropped ({string.Join(", ", missing)}); dropped: {dropped}");
    }
}
