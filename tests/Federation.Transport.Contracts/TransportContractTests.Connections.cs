using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    [Fact]
    public async Task DisposingConnection_CompletesCompletion_AndLaterCallsThrowConnectionLost()
    {
        var connection = await ConnectAsync(UniqueName("disposed"), Ct);
        var publisher = await OpenPublisherAsync(connection);
        Assert.False(connection.Completion.IsCompleted);

        await connection.DisposeAsync();

        await connection.Completion.WaitAsync(Patience, Ct);
        Assert.True(connection.Completion.IsCompletedSuccessfully);
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.ExchangeExistsAsync("anything", Ct));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.DeclareQueueAsync(new QueueSpec(UniqueName("late")), Ct));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.OpenPublisherAsync(new PublisherOptions(true), Ct));
        await Assert.ThrowsAnyAsync<TransportException>(async () => await PublishAsync(publisher, UniqueName("late"), "q", "late"));
    }

    [Fact]
    public async Task DisposingConnection_CompletesItsConsumers()
    {
        var connection = await ConnectAsync(UniqueName("disposed"), Ct);
        var queue = await DeclareQueueAsync(connection);
        var consumer = await connection.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct);

        await connection.DisposeAsync();

        await consumer.Completion.WaitAsync(Patience, Ct);
    }

    [Fact]
    public async Task Connection_ReportsVirtualHostAndUriWithoutCredentials()
    {
        var connection = await OpenAsync();

        Assert.False(string.IsNullOrEmpty(connection.VirtualHost));
        Assert.Equal(UriRedaction.Redact(connection.DisplayUri), connection.DisplayUri);
    }

    /// <remarks>
    /// What a new connection finds afterwards depends on the capabilities: the message again, flagged redelivered (a broker
    /// queue with acknowledgements); an empty queue (a broker queue, at-most-once); or no queue at all (connection-scoped queues).
    /// </remarks>
    [Fact]
    public async Task LostConnection_FaultsCompletions_AndReturnsUnackedMessagesAsRedelivered()
    {
        // Without server-side topology a queue exists on its connection only, so one connection declares, publishes and consumes.
        var consuming = await OpenAsync();
        var queue = await DeclareQueueAsync(consuming);
        var publisher = await OpenPublisherAsync(Has(TransportCapabilities.ServerSideTopology) ? await OpenAsync() : consuming);
        var first = await DeliveryRecorder.StartAsync(consuming, queue, new ConsumerOptions(1), ackOnReceipt: false, Ct);
        await PublishToQueueAsync(publisher, queue, "in-flight");
        await Eventually.TrueAsync(() => first.Count == 1, Patience);

        await DropConnectionsAsync();

        await Assert.ThrowsAsync<ConnectionLostException>(() => consuming.Completion.WaitAsync(Patience, Ct));
        await Assert.ThrowsAnyAsync<TransportException>(() => first.Consumer.Completion.WaitAsync(Patience, Ct));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await consuming.ExchangeExistsAsync("anything", Ct));
        var reconnected = await OpenAsync();
        if (!Has(TransportCapabilities.ServerSideTopology))
        {
            await Assert.ThrowsAsync<ResourceNotFoundException>(async () =>
                await reconnected.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct));
            return;
        }

        var second = await DeliveryRecorder.StartAsync(reconnected, queue, new ConsumerOptions(1), ackOnReceipt: true, Ct);
        if (!Has(TransportCapabilities.AtLeastOnce))
        {
            Assert.Empty(await ReceivedBeforeMarkerAsync(await OpenPublisherAsync(reconnected), queue, second));
            return;
        }

        await Eventually.TrueAsync(() => second.Count == 1, Patience);
        Assert.True(second.Deliveries[0].Redelivered);
        Assert.Equal("in-flight", second.Deliveries[0].Properties.MessageId);
    }

    /// <remarks>
    /// With <see cref="TransportCapabilities.Durable"/>, a durable queue keeps a persistent message across the restart;
    /// without it, the queue is gone afterwards.
    /// </remarks>
    [Fact]
    public async Task BrokerRestart_LosesTheConnection_AndKeepsDurableQueuesWithTheirPersistentMessages()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection, durable: true);
        var publisher = await OpenPublisherAsync(connection);
        var (exchange, routingKey) = RouteTo(queue);
        await publisher.PublishAsync(exchange, routingKey, new MessageProperties { MessageId = "kept", Persistent = true }, new byte[] { 1 }, Ct);

        await RestartBrokerAsync();

        await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Patience, Ct));
        var restarted = await OpenAsync();
        if (!Has(TransportCapabilities.Durable))
        {
            await Assert.ThrowsAsync<ResourceNotFoundException>(async () =>
                await restarted.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct));
            return;
        }

        var recorder = await DeliveryRecorder.StartAsync(restarted, queue, new ConsumerOptions(1), ackOnReceipt: true, Ct);
        await Eventually.TrueAsync(() => recorder.Count == 1, Patience, "the persistent message should survive the restart");
        Assert.Equal("kept", recorder.Deliveries[0].Properties.MessageId);
        Assert.True(recorder.Deliveries[0].Properties.Persistent);
    }
}
