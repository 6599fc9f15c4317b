using Federation.Core.InMemory;
using Federation.Core.Transport;
using Federation.Transport.Contracts;
using Xunit;

namespace Federation.Core.Tests.InMemory;

public sealed class InMemoryBrokerFaultTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Stop_LosesConnections_RefusesNewOnes_AndStartRecoversDurableStateWithRedeliveries()
    {
        var broker = new InMemoryBroker("stoppable");
        var connection = await broker.ConnectAsync(connectionName: "app");
        await connection.DeclareQueueAsync(new QueueSpec("durable"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("mine", Durable: false, Exclusive: true), CancellationToken.None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        await publisher.PublishAsync(string.Empty, "durable", new MessageProperties { MessageId = "m" }, ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        var consumer = await DeliveryRecorder.StartAsync(connection, "durable", new ConsumerOptions(1), ackOnReceipt: false, CancellationToken.None);
        await Eventually.TrueAsync(() => consumer.Count == 1, Patience);

        broker.Stop();

        await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Patience));
        await Assert.ThrowsAsync<ConnectionLostException>(() => consumer.Consumer.Completion.WaitAsync(Patience));
        await Assert.ThrowsAsync<BrokerUnreachableException>(async () => await broker.ConnectAsync());
        Assert.Equal(0, broker.ConnectionCount);
        Assert.False(broker.QueueExists("/", "mine"));
        Assert.Equal(1, broker.GetMessageCount("/", "durable"));

        broker.Start();
        var reconnected = await broker.ConnectAsync();
        var recovered = await DeliveryRecorder.StartAsync(reconnected, "durable", new ConsumerOptions(1), ackOnReceipt: true, CancellationToken.None);
        await Eventually.TrueAsync(() => recovered.Count == 1, Patience);
        Assert.True(recovered.Deliveries[0].Redelivered);
        Assert.Equal("m", recovered.Deliveries[0].Properties.MessageId);
    }

    [Fact]
    public async Task AutoAckConsumer_StoppedWithDeliveriesBuffered_CountsThemAsDropped()
    {
        // The broker removed them when it assigned them to the no-ack consumer; the handler never got them. They used to
        // vanish uncounted when the consumer stopped.
        var broker = new InMemoryBroker("autoack");
        var connection = await broker.ConnectAsync(connectionName: "app");
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        var drops = new List<(string Reason, long Count)>();
        var handled = 0;
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumer = await connection.ConsumeAsync(
            "q",
            new ConsumerOptions(0, AutoAck: true) { Dropped = (reason, count, _) => { lock (drops) { drops.Add((reason, count)); } } },
            async (_, token) =>
            {
                Interlocked.Increment(ref handled);
                inHandler.TrySetResult();
                await Task.Delay(Timeout.Infinite, token); // held until the consumer stops
            },
            CancellationToken.None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        for (var i = 0; i < 4; i++)
        {
            await publisher.PublishAsync(string.Empty, "q", new MessageProperties(), ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        }

        await inHandler.Task.WaitAsync(Patience);
        Assert.Equal(0, broker.GetMessageCount("/", "q")); // all four assigned to the consumer
        await consumer.DisposeAsync().AsTask().WaitAsync(Patience);

        Assert.Equal(1, Volatile.Read(ref handled));
        lock (drops)
        {
            Assert.Equal([("shutdown", 3L)], drops);
        }

        Assert.Equal(0, broker.GetMessageCount("/", "q"));
    }

    [Fact]
    public async Task DropConnections_LosesCurrentConnections_ButAcceptsNewOnes()
    {
        var broker = new InMemoryBroker("flaky");
        var first = await broker.ConnectAsync(connectionName: "first");
        var second = await broker.ConnectAsync(connectionName: "second");
        Assert.Equal(["first", "second"], broker.ConnectionNames.Order());

        broker.DropConnections();

        await Assert.ThrowsAsync<ConnectionLostException>(() => first.Completion.WaitAsync(Patience));
        await Assert.ThrowsAsync<ConnectionLostException>(() => second.Completion.WaitAsync(Patience));
        Assert.Equal(0, broker.ConnectionCount);
        await using var third = await broker.ConnectAsync(connectionName: "third");
        Assert.Equal(["third"], broker.ConnectionNames);
    }

    [Fact]
    public async Task NoWaitBind_ThatFails_LosesTheConnection()
    {
        var broker = new InMemoryBroker("nowait");
        var connection = await broker.ConnectAsync();

        await connection.BindAsync(new BindingSpec("missing", "missing", BindingDestinationKind.Queue, "k"), noWait: true, CancellationToken.None);

        var lost = await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Patience));
        Assert.Contains("missing", lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandlerFailure_StopsTheConsumer_AndRequeuesItsMessage()
    {
        var broker = new InMemoryBroker("handler-failure");
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        var consumer = await connection.ConsumeAsync("q", new ConsumerOptions(1), (_, _) => throw new InvalidOperationException("handler bug"), CancellationToken.None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        await publisher.PublishAsync(string.Empty, "q", new MessageProperties(), ReadOnlyMemory<byte>.Empty, CancellationToken.None);

        await Assert.ThrowsAsync<InvalidOperationException>(() => consumer.Completion.WaitAsync(Patience));
        Assert.Equal(1, broker.GetMessageCount("/", "q"));
    }
}
