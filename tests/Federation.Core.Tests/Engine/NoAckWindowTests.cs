using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A no-ack link has no consumer prefetch, so prefetch-count bounds the forwarded messages still being written
/// downstream: past it, the link's consumer waits for the newest, and the rest stays upstream. The same holds in every
/// ack mode for an upstream consumer that does not enforce the prefetch itself (core NATS).
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

    /// <summary>
    /// An upstream whose consumer has no prefetch (core NATS: NatsQueueConsumer never sees ConsumerOptions.Prefetch, and
    /// CanRequeue is false) on an on-confirm link: the link itself bounds the forwards waiting for the downstream's
    /// confirm, or a slow downstream would make them pile up in the process (the bounded NATS queue would never fill,
    /// so never push back).
    /// </summary>
    [Fact]
    public async Task Forwards_waiting_for_confirms_are_bounded_by_prefetch_when_the_upstream_consumer_has_no_prefetch()
    {
        _bed.WrapTransport = inner => _transport = new HeldConfirmsTransport(new NoPrefetchTransport(inner));
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.OnConfirm; u.PrefetchCount = 2; });
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < 20; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        // As for no-ack: at most prefetch-count in flight, plus the one the consumer waits for.
        await Testbed.Eventually(() => queue.Count >= 3, () => $"{queue.Count} forwarded");
        await queue.ExpectNoMoreThanAsync(3);
    }
}
