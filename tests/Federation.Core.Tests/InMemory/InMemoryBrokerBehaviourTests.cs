using System.Collections.Concurrent;
using Federation.Core.Hops;
using Federation.Core.InMemory;
using Federation.Core.Transport;
using Federation.Transport.Contracts;
using Xunit;

namespace Federation.Core.Tests.InMemory;

/// <summary>Broker behaviour beyond the transport contract: RabbitMQ details the engine and its tests rely on.</summary>
public sealed class InMemoryBrokerBehaviourTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly InMemoryBroker broker = new("behaviour");

    [Fact]
    public async Task AutoDeleteExchange_IsDeletedWithItsLastBinding_AndTheDeletionIsReported()
    {
        var connection = await broker.ConnectAsync();
        var changes = new ConcurrentQueue<TopologyChange>();
        using var subscription = connection.Topology!.Subscribe(changes.Enqueue);
        await connection.DeclareExchangeAsync(new ExchangeSpec("source", ExchangeSpec.Types.Fanout), None);
        await connection.DeclareExchangeAsync(new ExchangeSpec("transient", ExchangeSpec.Types.Fanout, AutoDelete: true), None);
        await connection.DeclareQueueAsync(new QueueSpec("q"), None);
        await connection.BindAsync(new BindingSpec("source", "transient", BindingDestinationKind.Exchange, string.Empty), noWait: false, None);
        await connection.BindAsync(new BindingSpec("transient", "q", BindingDestinationKind.Queue, string.Empty), noWait: false, None);

        await connection.DeleteQueueAsync("q", None);

        Assert.False(broker.ExchangeExists("/", "transient"));
        Assert.Empty(broker.GetBindings("/", "source"));
        await Eventually.TrueAsync(() => changes.Any(c => c.Kind == TopologyChangeKind.ExchangeDeleted), Patience);
        Assert.Equal(
            [TopologyChangeKind.ExchangeDeclared, TopologyChangeKind.ExchangeDeclared, TopologyChangeKind.BindingAdded, TopologyChangeKind.BindingAdded,
             TopologyChangeKind.BindingRemoved, TopologyChangeKind.BindingRemoved, TopologyChangeKind.ExchangeDeleted],
            changes.Select(c => c.Kind));
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), changes.Select(c => c.Serial));
    }

    [Fact]
    public async Task DefaultExchange_ExistsImplicitly_AndCannotBeDeclaredDeletedOrBound()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(new QueueSpec("q"), None);

        Assert.True(await connection.ExchangeExistsAsync(string.Empty, None));
        await Assert.ThrowsAnyAsync<TransportException>(async () => await connection.DeclareExchangeAsync(new ExchangeSpec(string.Empty, ExchangeSpec.Types.Direct), None));
        await Assert.ThrowsAnyAsync<TransportException>(async () => await connection.DeleteExchangeAsync(string.Empty, None));
        await Assert.ThrowsAnyAsync<TransportException>(async () => await connection.BindAsync(new BindingSpec(string.Empty, "q", BindingDestinationKind.Queue, "q"), noWait: false, None));
        Assert.DoesNotContain(string.Empty, broker.GetExchangeNames("/"));
    }

    [Fact]
    public async Task Handlers_MayPublishAndAckFromInsideTheHandler()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(new QueueSpec("in"), None);
        await connection.DeclareQueueAsync(new QueueSpec("out"), None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), None);
        IMessageConsumer? forwarder = null;
        forwarder = await connection.ConsumeAsync("in", new ConsumerOptions(1), async (delivery, ct) =>
        {
            await publisher.PublishAsync(string.Empty, "out", delivery.Properties, delivery.Body, ct);
            await forwarder!.AckAsync(delivery.DeliveryTag, multiple: false, ct);
        }, None);

        for (var i = 0; i < 20; i++)
        {
            await publisher.PublishAsync(string.Empty, "in", new MessageProperties(), ReadOnlyMemory<byte>.Empty, None);
        }

        await Eventually.TrueAsync(() => broker.GetMessageCount("/", "out") == 20, Patience);
        Assert.Equal(0, broker.GetMessageCount("/", "in"));
    }

    [Fact]
    public async Task ConsumersOfOneQueue_GetMessagesRoundRobin()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(new QueueSpec("shared"), None);
        var first = await DeliveryRecorder.StartAsync(connection, "shared", new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, None);
        var second = await DeliveryRecorder.StartAsync(connection, "shared", new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), None);

        for (var i = 0; i < 6; i++)
        {
            await publisher.PublishAsync(string.Empty, "shared", new MessageProperties { MessageId = $"{i}" }, ReadOnlyMemory<byte>.Empty, None);
        }

        await Eventually.TrueAsync(() => first.Count + second.Count == 6, Patience);
        Assert.Equal(["0", "2", "4"], first.MessageIds);
        Assert.Equal(["1", "3", "5"], second.MessageIds);
    }

    [Fact]
    public async Task EachQueue_GetsItsOwnHeaderTables()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareExchangeAsync(new ExchangeSpec("fan", ExchangeSpec.Types.Fanout), None);
        await connection.DeclareQueueAsync(new QueueSpec("q1"), None);
        await connection.DeclareQueueAsync(new QueueSpec("q2"), None);
        await connection.BindAsync(new BindingSpec("fan", "q1", BindingDestinationKind.Queue, string.Empty), noWait: false, None);
        await connection.BindAsync(new BindingSpec("fan", "q2", BindingDestinationKind.Queue, string.Empty), noWait: false, None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), None);
        var headers = new Dictionary<string, object?> { [HopHeaders.ReceivedFrom] = new List<object?> { "hop" } };
        await publisher.PublishAsync("fan", string.Empty, new MessageProperties { Headers = headers }, ReadOnlyMemory<byte>.Empty, None);

        var first = await DeliveryRecorder.StartAsync(connection, "q1", new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, None);
        await Eventually.TrueAsync(() => first.Count == 1, Patience);
        var firstHeaders = first.Deliveries[0].Properties.Headers!;
        ((List<object?>)firstHeaders[HopHeaders.ReceivedFrom]!).Insert(0, "mutated");
        firstHeaders["added"] = true;
        var second = await DeliveryRecorder.StartAsync(connection, "q2", new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, None);
        await Eventually.TrueAsync(() => second.Count == 1, Patience);

        Assert.Equal(headers, second.Deliveries[0].Properties.Headers!, HeaderValueComparer.Instance);
    }

    [Fact]
    public async Task ExclusiveQueue_IsLockedToItsConnection_AndDeletedWhenItCloses()
    {
        var owner = await broker.ConnectAsync();
        var other = await broker.ConnectAsync();
        await owner.DeclareQueueAsync(new QueueSpec("private", Durable: false, Exclusive: true), None);

        await Assert.ThrowsAnyAsync<TransportException>(async () =>
            await other.ConsumeAsync("private", new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, None));
        await owner.DisposeAsync();

        Assert.False(broker.QueueExists("/", "private"));
    }

    [Fact]
    public async Task ExclusiveQueue_CannotBeDeletedByAnotherConnection_OnlyByItsOwnerOrTheBrokersTools()
    {
        var owner = await broker.ConnectAsync();
        var other = await broker.ConnectAsync();
        await owner.DeclareQueueAsync(new QueueSpec("private", Durable: false, Exclusive: true), None);

        // As RabbitMQ: queue.delete of another connection's exclusive queue is 405 RESOURCE_LOCKED.
        await Assert.ThrowsAsync<ResourceLockedException>(async () => await other.DeleteQueueAsync("private", None));
        await Assert.ThrowsAsync<ResourceLockedException>(async () => await other.DeleteQueueCountingDiscardedAsync("private", None));
        Assert.True(broker.QueueExists("/", "private"));

        await owner.DeleteQueueAsync("private", None);
        Assert.False(broker.QueueExists("/", "private"));

        await owner.DeclareQueueAsync(new QueueSpec("private", Durable: false, Exclusive: true), None);
        broker.DeleteQueue("/", "private"); // rabbitmqctl delete_queue, the management API
        Assert.False(broker.QueueExists("/", "private"));
    }

    [Fact]
    public async Task AutoDeleteQueue_IsDeletedWhenItsLastConsumerLeaves()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(new QueueSpec("temp", AutoDelete: true), None);
        var first = await connection.ConsumeAsync("temp", new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, None);
        var second = await connection.ConsumeAsync("temp", new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, None);

        await first.DisposeAsync();
        Assert.True(broker.QueueExists("/", "temp"));
        await second.DisposeAsync();

        Assert.False(broker.QueueExists("/", "temp"));
    }

    [Fact]
    public async Task FederationExchangeType_CanBeSwitchedOff_ToExerciseTheFanoutFallback()
    {
        broker.SupportsFederationExchangeType = false;
        var connection = await broker.ConnectAsync();

        await Assert.ThrowsAsync<ExchangeTypeNotSupportedException>(async () =>
            await connection.DeclareExchangeAsync(new ExchangeSpec("link A", ExchangeSpec.Types.FederationUpstream, Internal: true, AutoDelete: true), None));
        Assert.False(broker.ExchangeExists("/", "link A"));
    }

    [Fact]
    public async Task Inspection_ReportsDeclaredState()
    {
        broker.AddVirtualHost("other");
        var connection = await broker.ConnectAsync("other");
        var arguments = new Dictionary<string, object?> { ["x-queue-type"] = "classic", ["x-internal-purpose"] = "federation" };
        await connection.DeclareExchangeAsync(new ExchangeSpec("x", ExchangeSpec.Types.Topic, Durable: false), None);
        await connection.DeclareQueueAsync(new QueueSpec("q", Arguments: arguments), None);
        await connection.BindAsync(new BindingSpec("x", "q", BindingDestinationKind.Queue, "a.*"), noWait: false, None);

        Assert.Equal(new ExchangeSpec("x", ExchangeSpec.Types.Topic, Durable: false), broker.GetExchange("other", "x"));
        Assert.Equal(arguments, broker.GetQueue("other", "q")!.Arguments!, HeaderValueComparer.Instance);
        Assert.Equal([new BindingSpec("x", "q", BindingDestinationKind.Queue, "a.*")], broker.GetBindings("other", "x"));
        Assert.Equal(["x"], broker.GetExchangeNames("other"));
        Assert.Equal(["q"], broker.GetQueueNames("other"));
        Assert.Empty(broker.GetQueueNames("/"));
        Assert.Throws<ArgumentException>(() => broker.GetQueueNames("missing"));
    }
}
