using System.Collections.Concurrent;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    [Fact]
    public async Task Prefetch_BoundsUnacknowledgedDeliveries()
    {
        const int Prefetch = 3;
        const int Total = 12;
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var publisher = await OpenPublisherAsync(connection);
        for (var i = 0; i < Total; i++)
        {
            await PublishToQueueAsync(publisher, queue, $"m{i}");
        }

        var received = new ConcurrentQueue<ulong>();
        var acked = 0;
        var mostOutstanding = 0;
        var consumer = await connection.ConsumeAsync(queue, new ConsumerOptions(Prefetch), (delivery, _) =>
        {
            received.Enqueue(delivery.DeliveryTag);
            var outstanding = received.Count - Volatile.Read(ref acked);
            InterlockedMax(ref mostOutstanding, outstanding);
            return ValueTask.CompletedTask;
        }, Ct);

        if (!Has(TransportCapabilities.AtLeastOnce))
        {
            // At-most-once: nothing waits for an ack, so every message arrives without one.
            await Eventually.TrueAsync(() => received.Count == Total, Patience, $"all {Total} deliveries should arrive without acks");
            Assert.Equal(Enumerable.Range(1, Total).Select(tag => (ulong)tag), received);
            return;
        }

        while (Volatile.Read(ref acked) < Total)
        {
            var expected = Math.Min(Volatile.Read(ref acked) + Prefetch, Total);
            await Eventually.TrueAsync(() => received.Count >= expected, Patience, $"{expected} deliveries should arrive");
            var tag = received.ElementAt(acked);
            Interlocked.Increment(ref acked);
            await consumer.AckAsync(tag, multiple: false, Ct);
        }

        Assert.Equal(Total, received.Count);
        Assert.Equal(Prefetch, mostOutstanding);
    }

    [Fact]
    public async Task DeliveryTags_IncreaseFromOne()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var publisher = await OpenPublisherAsync(connection);
        await PublishToQueueAsync(publisher, queue, "a");
        await PublishToQueueAsync(publisher, queue, "b");
        await PublishToQueueAsync(publisher, queue, "c");

        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0), ackOnReceipt: true, Ct);

        await Eventually.TrueAsync(() => recorder.Count == 3, Patience);
        Assert.Equal([1UL, 2UL, 3UL], recorder.Deliveries.Select(d => d.DeliveryTag));
        Assert.Equal(["a", "b", "c"], recorder.MessageIds);
    }

    [Fact]
    public async Task NackWithRequeue_RedeliversTheMessageFlaggedRedelivered()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var publisher = await OpenPublisherAsync(connection);
        await PublishToQueueAsync(publisher, queue, "retry-me");
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(1), ackOnReceipt: false, Ct);
        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);

        await recorder.Consumer.NackAsync(recorder.Deliveries[0].DeliveryTag, multiple: false, requeue: true, Ct);

        if (!Has(TransportCapabilities.AtLeastOnce))
        {
            // At-most-once: the nack is accepted and does nothing; the message does not come back.
            Assert.Equal(["retry-me"], await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
            Assert.All(recorder.Deliveries, d => Assert.False(d.Redelivered));
            return;
        }

        await Eventually.TrueAsync(() => recorder.Count == 2, Patience);
        var redelivery = recorder.Deliveries[1];
        Assert.False(recorder.Deliveries[0].Redelivered);
        Assert.True(redelivery.Redelivered);
        Assert.Equal("retry-me", redelivery.Properties.MessageId);
        await recorder.Consumer.AckAsync(redelivery.DeliveryTag, multiple: false, Ct);
    }

    [Fact]
    public async Task AckMultiple_And_NackWithoutRequeue_SettleForGood()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var publisher = await OpenPublisherAsync(connection);
        foreach (var id in new[] { "a", "b", "c" })
        {
            await PublishToQueueAsync(publisher, queue, id);
        }

        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0), ackOnReceipt: false, Ct);
        await Eventually.TrueAsync(() => recorder.Count == 3, Patience);
        await recorder.Consumer.AckAsync(recorder.Deliveries[1].DeliveryTag, multiple: true, Ct);
        await recorder.Consumer.NackAsync(recorder.Deliveries[2].DeliveryTag, multiple: false, requeue: false, Ct);
        await recorder.Consumer.DisposeAsync();

        var later = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        Assert.Empty(await ReceivedBeforeMarkerAsync(publisher, queue, later));
    }

    [Fact]
    public async Task Ack_WithUnknownDeliveryTag_Throws()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var consumer = await connection.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct);

        if (!Has(TransportCapabilities.AtLeastOnce))
        {
            // At-most-once: acks are accepted and do nothing, whatever the tag.
            await consumer.AckAsync(42, multiple: false, Ct);
            await consumer.NackAsync(43, multiple: true, requeue: true, Ct);
            Assert.False(consumer.Completion.IsCompleted);
            return;
        }

        await Assert.ThrowsAnyAsync<TransportException>(async () => await consumer.AckAsync(42, multiple: false, Ct));
    }

    [Fact]
    public async Task DisposingConsumer_ReturnsUnackedMessages_AsRedelivered()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var publisher = await OpenPublisherAsync(connection);
        await PublishToQueueAsync(publisher, queue, "unacked");
        var first = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(1), ackOnReceipt: false, Ct);
        await Eventually.TrueAsync(() => first.Count == 1, Patience);

        await first.Consumer.DisposeAsync();
        await first.Consumer.Completion.WaitAsync(Patience, Ct);

        var second = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(1), ackOnReceipt: true, Ct);
        if (!Has(TransportCapabilities.AtLeastOnce))
        {
            // At-most-once: the message was handed out once, so it is gone with the first consumer.
            Assert.Empty(await ReceivedBeforeMarkerAsync(publisher, queue, second));
            return;
        }

        await Eventually.TrueAsync(() => second.Count == 1, Patience);
        Assert.True(second.Deliveries[0].Redelivered);
        Assert.Equal("unacked", second.Deliveries[0].Properties.MessageId);
    }

    [Fact]
    public async Task DeletingTheQueue_FaultsTheConsumerCompletion()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var consumer = await connection.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct);

        // Another connection deletes it where queues are broker objects; otherwise only the declaring connection can.
        var other = Has(TransportCapabilities.ServerSideTopology) ? await OpenAsync() : connection;
        await other.DeleteQueueAsync(queue, Ct);

        await Assert.ThrowsAnyAsync<TransportException>(() => consumer.Completion.WaitAsync(Patience, Ct));
    }

    private static void InterlockedMax(ref int target, int candidate)
    {
        var current = Volatile.Read(ref target);
        while (candidate > current)
        {
            var seen = Interlocked.CompareExchange(ref target, candidate, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
