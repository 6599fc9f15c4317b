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
        await Assert.ThrowsAnyAsync<TransportException>(async () => await PublishAsync(publisher, string.Empty, "q", "late"));
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

    [Fact]
    public async Task LostConnection_FaultsCompletions_AndReturnsUnackedMessagesAsRedelivered()
    {
        if (DropConnections is not { } dropConnections)
        {
            return; // The adapter cannot inject network failures; nothing to check.
        }

        var setup = await OpenAsync();
        var queue = await DeclareQueueAsync(setup);
        var publisher = await OpenPublisherAsync(setup);
        await PublishAsync(publisher, string.Empty, queue, "in-flight");
        var consuming = await OpenAsync();
        var first = await DeliveryRecorder.StartAsync(consuming, queue, new ConsumerOptions(1), ackOnReceipt: false, Ct);
        await Eventually.TrueAsync(() => first.Count == 1, Patience);

        await dropConnections();

        await Assert.ThrowsAsync<ConnectionLostException>(() => consuming.Completion.WaitAsync(Patience, Ct));
        await Assert.ThrowsAnyAsync<TransportException>(() => first.Consumer.Completion.WaitAsync(Patience, Ct));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await consuming.ExchangeExistsAsync("anything", Ct));
        var reconnected = await OpenAsync();
        var second = await DeliveryRecorder.StartAsync(reconnected, queue, new ConsumerOptions(1), ackOnReceipt: true, Ct);
        await Eventually.TrueAsync(() => second.Count == 1, Patience);
        Assert.True(second.Deliveries[0].Redelivered);
        Assert.Equal("in-flight", second.Deliveries[0].Properties.MessageId);
    }
}
