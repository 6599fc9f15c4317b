using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Transport;

/// <summary>The consumer of an emulated queue: one delivery at a time, and a stop that ends it.</summary>
public sealed class NatsQueueConsumerTests
{
    [Fact]
    public async Task A_consumer_stopped_while_messages_wait_in_its_queue_ends_instead_of_spinning()
    {
        // A link stops its consumer while the queue still holds messages (a downstream that died under load): the handler
        // call in flight returns normally, and the loop must end there, not go round for ever on a queue that is not empty
        // (it did, at full CPU, after a kill -9 of the downstream server; the stop gave up after 5 s and the thread spun on).
        var queue = new NatsEmulatedQueue(new QueueSpec("q"));
        for (var i = 0; i < 3; i++)
        {
            await queue.OfferAsync(new NatsQueuedMessage("x", "k", null, new byte[] { (byte)i }), CancellationToken.None);
        }

        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var consumer = new NatsQueueConsumer(
            queue,
            async (_, _) =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    inHandler.SetResult();
                    await release.Task; // returns normally, as a forward that finished does
                }
            },
            dropped: null,
            connectionCompletion: new TaskCompletionSource().Task);

        await inHandler.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var disposing = consumer.DisposeAsync().AsTask();
        release.SetResult();

        await disposing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, Volatile.Read(ref calls));
        Assert.True(queue.TryTake(out _), "what the stopped consumer did not take stays in the queue");
    }

    [Fact]
    public async Task A_consumer_stopped_after_its_connection_closed_counts_what_is_left_in_its_queue_as_lost()
    {
        // The connection went (lost, or disposed): its queue is closed, nobody will take what is left, and core NATS cannot
        // send it again. It used to vanish with the consumer, uncounted.
        var queue = new NatsEmulatedQueue(new QueueSpec("q"));
        for (var i = 0; i < 4; i++)
        {
            await queue.OfferAsync(new NatsQueuedMessage("x", "k", null, new byte[] { (byte)i }), CancellationToken.None);
        }

        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var drops = new List<(string Reason, long Count)>();
        var consumer = new NatsQueueConsumer(
            queue,
            async (_, _) =>
            {
                inHandler.TrySetResult();
                await release.Task;
            },
            dropped: (reason, count, _) => { lock (drops) { drops.Add((reason, count)); } },
            connectionCompletion: new TaskCompletionSource().Task);

        await inHandler.Task.WaitAsync(TimeSpan.FromSeconds(10));
        queue.Close(new ConnectionLostException("gone"));
        var disposing = consumer.DisposeAsync().AsTask();
        release.SetResult();
        await disposing.WaitAsync(TimeSpan.FromSeconds(10));

        lock (drops)
        {
            Assert.Equal([("shutdown", 3L)], drops);
        }

        Assert.False(queue.TryTake(out _));
    }
}
