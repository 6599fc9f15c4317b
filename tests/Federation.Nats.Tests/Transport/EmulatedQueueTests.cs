using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Transport;

/// <summary>The NATS transport's emulated queue: a lock-free hand-off from the read loop to a consumer.</summary>
public sealed class EmulatedQueueTests
{
    [Fact]
    public async Task A_reader_that_parks_on_an_empty_queue_gets_every_message_in_order()
    {
        const int Count = 50_000; // under the queue's capacity: nothing may be dropped
        var queue = new NatsEmulatedQueue(new QueueSpec("q"));
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                await queue.OfferAsync(new NatsQueuedMessage("x", i.ToString(System.Globalization.CultureInfo.InvariantCulture), null, ReadOnlyMemory<byte>.Empty), CancellationToken.None);
                if (i % 97 == 0)
                {
                    Thread.Yield(); // let the reader run dry and park again, many times
                }
            }
        });

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var next = 0;
        while (next < Count && await queue.WaitToReadAsync(timeout.Token))
        {
            while (queue.TryTake(out var message))
            {
                Assert.Equal(next.ToString(System.Globalization.CultureInfo.InvariantCulture), message.RoutingKey);
                next++;
            }
        }

        await writer;
        Assert.Equal(Count, next);
    }

    [Fact]
    public async Task Closing_wakes_a_parked_reader_which_drains_then_sees_the_end_or_the_error()
    {
        var closed = new NatsEmulatedQueue(new QueueSpec("q"));
        var waiting = closed.WaitToReadAsync(CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        closed.Close(null);
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(closed.OfferAsync(new NatsQueuedMessage("x", "late", null, ReadOnlyMemory<byte>.Empty), CancellationToken.None).AsTask().IsCompletedSuccessfully);
        Assert.False(closed.TryTake(out _)); // dropped: the queue is closed

        var deleted = new NatsEmulatedQueue(new QueueSpec("d"));
        await deleted.OfferAsync(new NatsQueuedMessage("x", "kept", null, ReadOnlyMemory<byte>.Empty), CancellationToken.None);
        deleted.Delete();
        Assert.True(await deleted.WaitToReadAsync(CancellationToken.None));
        Assert.True(deleted.TryTake(out var kept));
        Assert.Equal("kept", kept.RoutingKey);
        await Assert.ThrowsAsync<ResourceNotFoundException>(async () => await deleted.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_full_queue_pushes_back_until_the_reader_has_taken_half_and_loses_nothing()
    {
        var queue = new NatsEmulatedQueue(new QueueSpec("q"));
        static NatsQueuedMessage Message(int i) => new("x", i.ToString(System.Globalization.CultureInfo.InvariantCulture), null, ReadOnlyMemory<byte>.Empty);

        var accepted = 0;
        Task pending;
        while ((pending = queue.OfferAsync(Message(accepted), CancellationToken.None).AsTask()).IsCompletedSuccessfully)
        {
            accepted++;
            Assert.True(accepted <= 1_000_000, "the queue never pushed back");
        }

        Assert.False(pending.IsCompleted);
        var next = 0;
        while (next < accepted / 2 && queue.TryTake(out var message))
        {
            Assert.Equal(next.ToString(System.Globalization.CultureInfo.InvariantCulture), message.RoutingKey);
            next++;
        }

        Assert.False(pending.IsCompleted); // exactly half taken: not yet below the low-water mark
        Assert.True(queue.TryTake(out _));
        next++;
        await pending.WaitAsync(TimeSpan.FromSeconds(10));
        while (queue.TryTake(out var message))
        {
            Assert.Equal(next.ToString(System.Globalization.CultureInfo.InvariantCulture), message.RoutingKey);
            next++;
        }

        Assert.Equal(accepted + 1, next); // the message that waited went in last, after all the others
    }
}
