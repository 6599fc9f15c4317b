using System.Globalization;
using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// An emulated queue with one consumer hands each message to the consumer's handler on the writer's thread (the read
/// loop), not through the consumer's own task: in order, one at a time, and never after the consumer stopped.
/// </summary>
public sealed class QueueHandOffTests
{
    private static NatsQueuedMessage Message(int i) => new("x", i.ToString(CultureInfo.InvariantCulture), null, ReadOnlyMemory<byte>.Empty);

    [Fact]
    public async Task The_only_consumer_gets_a_message_on_the_writers_thread_before_the_offer_returns()
    {
        var queue = new NatsEmulatedQueue(new QueueSpec("q"));
        int? handlerThread = null;
        await using var consumer = new NatsQueueConsumer(
            queue,
            (_, _) =>
            {
                handlerThread = Environment.CurrentManagedThreadId;
                return ValueTask.CompletedTask;
            },
            dropped: null,
            connectionCompletion: new TaskCompletionSource().Task);

        var offered = queue.OfferAsync(Message(1), CancellationToken.None).AsTask();

        Assert.True(offered.IsCompletedSuccessfully);
        Assert.Equal(Environment.CurrentManagedThreadId, handlerThread);
    }

    [Fact]
    public async Task A_handler_that_waits_holds_the_writer_and_messages_queued_before_the_consumer_come_first()
    {
        var queue = new NatsEmulatedQueue(new QueueSpec("q"));
        for (var i = 0; i < 100; i++)
        {
            await queue.OfferAsync(Message(i), CancellationToken.None); // no consumer yet: queued
        }

        var seen = new List<int>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var consumer = new NatsQueueConsumer(
            queue,
            async (delivery, _) =>
            {
                lock (seen)
                {
                    seen.Add(int.Parse(delivery.RoutingKey, CultureInfo.InvariantCulture));
                }

                if (delivery.RoutingKey == "150")
                {
                    await gate.Task; // a link past its in-flight window
                }
            },
            dropped: null,
            connectionCompletion: new TaskCompletionSource().Task);

        var writer = Task.Run(async () =>
        {
            for (var i = 100; i < 200; i++)
            {
                await queue.OfferAsync(Message(i), CancellationToken.None);
            }
        });

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (Count(seen) < 151)
            {
                await Task.Delay(5, deadline.Token);
            }

            Assert.False(writer.IsCompleted, "the writer waits while the handler does");
            Assert.Equal(151, Count(seen));
        }
        finally
        {
            gate.TrySetResult(); // also on a failure: the consumer's stop waits for the handler
        }

        await writer.WaitAsync(deadline.Token);
        while (Count(seen) < 200)
        {
            await Task.Delay(5, deadline.Token);
        }

        lock (seen)
        {
            Assert.Equal(Enumerable.Range(0, 200), seen);
        }
    }

    [Fact]
    public async Task A_stop_waits_for_the_message_a_writer_is_handing_over_and_later_ones_stay_queued()
    {
        var queue = new NatsEmulatedQueue(new QueueSpec("q"));
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var consumer = new NatsQueueConsumer(
            queue,
            async (_, _) =>
            {
                Interlocked.Increment(ref calls);
                inHandler.TrySetResult();
                await release.Task;
            },
            dropped: null,
            connectionCompletion: new TaskCompletionSource().Task);

        var first = queue.OfferAsync(Message(1), CancellationToken.None).AsTask();
        await inHandler.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var stopping = consumer.DisposeAsync().AsTask();
        var stoppedEarly = stopping.IsCompleted;
        release.SetResult();
        Assert.False(stoppedEarly, "the stop returned while the handler still ran");
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        await first.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(queue.OfferAsync(Message(2), CancellationToken.None).AsTask().IsCompletedSuccessfully);
        Assert.Equal(1, Volatile.Read(ref calls));
        Assert.True(queue.TryTake(out var kept), "a message offered after the stop waits in the queue");
        Assert.Equal("2", kept.RoutingKey);
    }

    private static int Count(List<int> seen)
    {
        lock (seen)
        {
            return seen.Count;
        }
    }
}
