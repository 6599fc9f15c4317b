using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A no-ack link has no consumer prefetch, so prefetch-count bounds the forwarded messages still being written
/// downstream: past it, the link's consumer waits for the newest, and the rest stays upstream.
/// </summary>
public sealed class NoAckWindowTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private HeldConfirmsTransport _transport = null!;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _transport = new HeldConfirmsTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var pending in _transport.Held)
        {
            pending.TrySetResult();
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task Past_prefetch_count_unwritten_publishes_the_consumer_waits_for_the_newest()
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.NoAck; u.PrefetchCount = 2; });
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < 6; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        // Two in flight is the window; the third goes past it, and the consumer waits until that one is written.
        await Testbed.Eventually(() => queue.Count == 3, () => $"{queue.Count} forwarded");
        await queue.ExpectNoMoreThanAsync(3);

        // The newest is written (the two before it still are not): one more may go, and again the consumer waits.
        _transport.Held[2].SetResult();
        await Testbed.Eventually(() => queue.Count == 4, () => $"{queue.Count} forwarded");
        await queue.ExpectNoMoreThanAsync(4);

        // Once everything held is written, the rest follows (each release may let the next ones be held).
        await Testbed.Eventually(() =>
        {
            foreach (var pending in _transport.Held)
            {
                pending.TrySetResult();
            }

            return queue.Count == 6;
        }, () => $"{queue.Count} forwarded");

        Assert.Equal(["m0", "m1", "m2", "m3", "m4", "m5"], queue.Bodies);
    }
}
