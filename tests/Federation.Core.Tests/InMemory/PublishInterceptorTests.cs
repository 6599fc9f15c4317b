using Federation.Core.InMemory;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.InMemory;

public sealed class PublishInterceptorTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Nack_FailsTheConfirmingPublish_AndDoesNotRouteTheMessage()
    {
        var (broker, connection) = await BrokerWithQueueAsync();
        PublishContext? seen = null;
        broker.PublishInterceptor = context =>
        {
            seen = context;
            return PublishOutcome.Nack;
        };
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        await Assert.ThrowsAsync<PublishNackedException>(async () =>
            await publisher.PublishAsync(string.Empty, "q", new MessageProperties { MessageId = "m" }, ReadOnlyMemory<byte>.Empty, CancellationToken.None));

        Assert.Equal(0, broker.GetMessageCount("/", "q"));
        Assert.Equal(("/", "app", string.Empty, "q", "m"), (seen!.VirtualHost, seen.ConnectionName, seen.Exchange, seen.RoutingKey, seen.Properties.MessageId));
    }

    [Fact]
    public async Task Nack_WithoutConfirms_CompletesButDoesNotRoute()
    {
        var (broker, connection) = await BrokerWithQueueAsync();
        broker.PublishInterceptor = _ => PublishOutcome.Nack;
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), CancellationToken.None);

        await publisher.PublishAsync(string.Empty, "q", new MessageProperties(), ReadOnlyMemory<byte>.Empty, CancellationToken.None);

        Assert.Equal(0, broker.GetMessageCount("/", "q"));
    }

    [Fact]
    public async Task DropConnection_LosesThePublishingConnection_BeforeRouting()
    {
        var (broker, connection) = await BrokerWithQueueAsync();
        broker.PublishInterceptor = context => context.RoutingKey == "q" ? PublishOutcome.DropConnection : PublishOutcome.Accept;
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        await Assert.ThrowsAsync<ConnectionLostException>(async () =>
            await publisher.PublishAsync(string.Empty, "q", new MessageProperties(), ReadOnlyMemory<byte>.Empty, CancellationToken.None));

        await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Patience));
        Assert.Equal(0, broker.GetMessageCount("/", "q"));
        Assert.Equal(0, broker.ConnectionCount);
    }

    [Fact]
    public async Task MessagesOverMaxMessageSize_AreRejected()
    {
        var (broker, connection) = await BrokerWithQueueAsync();
        broker.MaxMessageSize = 4;
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        await publisher.PublishAsync(string.Empty, "q", new MessageProperties(), new byte[4], CancellationToken.None);
        // Refused for good (a link rejects it upstream and goes on), and the publisher stays usable.
        var refused = await Assert.ThrowsAsync<MessageTooLargeException>(async () =>
            await publisher.PublishAsync(string.Empty, "q", new MessageProperties(), new byte[5], CancellationToken.None));
        Assert.Equal(0, refused.Index);
        await publisher.PublishAsync(string.Empty, "q", new MessageProperties(), new byte[4], CancellationToken.None);

        Assert.Equal(2, broker.GetMessageCount("/", "q"));
    }

    [Fact]
    public async Task A_ledger_unit_with_a_message_over_MaxMessageSize_is_refused_whole_naming_that_message()
    {
        var (broker, connection) = await BrokerWithQueueAsync();
        broker.MaxMessageSize = 4;
        await using var ledger = await connection.OpenLedgerAsync(new LedgerOptions("ledger", 1024), CancellationToken.None);
        Assert.NotNull(ledger);
        LedgerMessage Message(int size) => new(string.Empty, "q", new MessageProperties(), new byte[size]);

        var refused = await Assert.ThrowsAsync<MessageTooLargeException>(async () =>
            await ledger.PublishAndRecordAsync([Message(4), Message(5), Message(1)], new byte[] { 1 }, CancellationToken.None));
        Assert.Equal(1, refused.Index);
        Assert.Equal(0, broker.GetMessageCount("/", "q"));

        await ledger.PublishAndRecordAsync([Message(4), Message(1)], new byte[] { 1 }, CancellationToken.None);
        Assert.Equal(2, broker.GetMessageCount("/", "q"));
    }

    private static async Task<(InMemoryBroker Broker, IBrokerConnection Connection)> BrokerWithQueueAsync()
    {
        var broker = new InMemoryBroker("intercepted");
        var connection = await broker.ConnectAsync(connectionName: "app");
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        return (broker, connection);
    }
}
