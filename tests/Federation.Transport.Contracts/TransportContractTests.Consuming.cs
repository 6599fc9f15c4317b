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
            await PublishAsync(publisher, string.Empty, queue, $"m{i}");
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
        await PublishAsync(publisher, string.Empty, queue, "a");
        await PublishAsync(publisher, string.Empty, queue, "b");
        await PublishAsync(publisher, string.Empty, queue, "c");

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
        await PublishAsync(publisher, string.Empty, queue, "retry-me");
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(1), ackOnReceipt: false, Ct);
        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);

        await recorder.Consumer.NackAsync(recorder.Deliveries[0].DeliveryTag, multiple: false, requeue: true, Ct);

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
            await PublishAsync(publisher, string.Empty, queue, id);
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

        await Assert.ThrowsAnyAsync<TransportException>(async () => await consumer.AckAsync(42, multiple: false, Ct));
    }

    [Fact]
    public async Task DisposingConsumer_ReturnsUnackedMessages_AsRedelivered()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var publisher = await OpenPublisherAsync(connection);
        await PublishAsync(publisher, string.Empty, queue, "unacked");
        var first = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(1), ackOnReceipt: false, Ct);
        await Eventually.TrueAsync(() => first.Count == 1, Patience);

        await first.Consumer.DisposeAsync();
        await first.Consumer.Completion.WaitAsync(Patience, Ct);

        var second = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(1), ackOnReceipt: true, Ct);
        await Eventually.TrueAsync(() => second.Count == 1, Patience);
        Assert.True(second.Deliveries[0].Redelivered);
        Assert.Equal("unacked", second.Deliveries[0].Properties.MessageId);
    }

    [Fact]
    public async Task DeletingTheQueue_FaultsTheConsumerCompletion()
    {
        var connection = await OpenAsync();
        var other = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var consumer = await connection.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct);

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
