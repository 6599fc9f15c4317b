using Federation.Core.InMemory;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Federation.Transport.Contracts;
using Xunit;

namespace Federation.Core.Tests.InMemory;

public sealed class QueueExpiryTests
{
    private readonly FakeTimeProvider time = new();
    private readonly InMemoryBroker broker;

    public QueueExpiryTests() => broker = new InMemoryBroker("expiring", timeProvider: time);

    [Fact]
    public async Task XExpires_DeletesAnUnusedQueue_OnlyAfterTheFullPeriod()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(Expiring("idle", 1_000), CancellationToken.None);

        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.True(broker.QueueExists("/", "idle"));

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(broker.QueueExists("/", "idle"));
    }

    [Fact]
    public async Task XExpires_AtRabbitMqsLimit_LongerThanATimerTakes_IsAccepted_AndDeletesTheQueueAfterTheFullPeriod()
    {
        // 2^32 - 1 ms, the most RabbitMQ (and validation) accepts; a timer takes at most 2^32 - 2. Declared on the real
        // clock, whose timers refuse the longer period (this threw ArgumentOutOfRangeException)...
        const long Limit = uint.MaxValue;
        var real = new InMemoryBroker("real-clock");
        var realConnection = await real.ConnectAsync();
        await realConnection.DeclareQueueAsync(Expiring("longest", Limit), CancellationToken.None);
        await realConnection.DeclareQueueAsync(Expiring("longest", Limit), CancellationToken.None);
        Assert.True(real.QueueExists("/", "longest"));
        await realConnection.DeleteQueueAsync("longest", CancellationToken.None); // and its timer
        await realConnection.DisposeAsync();

        // ...and on the fake one, to see that the period is waited out whole, in two timer steps.
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(Expiring("longest", Limit), CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(Limit - 1));
        Assert.True(broker.QueueExists("/", "longest"));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(broker.QueueExists("/", "longest"));
    }

    [Fact]
    public async Task XExpires_IsRestartedByARedeclare()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(Expiring("redeclared", 1_000), CancellationToken.None);

        time.Advance(TimeSpan.FromMilliseconds(600));
        await connection.DeclareQueueAsync(Expiring("redeclared", 1_000), CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(600));
        Assert.True(broker.QueueExists("/", "redeclared"));

        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.False(broker.QueueExists("/", "redeclared"));
    }

    [Fact]
    public async Task XExpires_DoesNotDeleteAQueueWithAConsumer_AndCountsFromWhenTheLastOneLeft()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(Expiring("consumed", 1_000), CancellationToken.None);
        var consumer = await connection.ConsumeAsync("consumed", new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, CancellationToken.None);

        time.Advance(TimeSpan.FromMilliseconds(5_000));
        Assert.True(broker.QueueExists("/", "consumed"));

        await consumer.DisposeAsync();
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.True(broker.QueueExists("/", "consumed"));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(broker.QueueExists("/", "consumed"));
    }

    [Fact]
    public async Task XMessageTtl_DropsMessagesOlderThanTheTtl_SoTheyAreNeverDelivered()
    {
        var connection = await broker.ConnectAsync();
        await connection.DeclareQueueAsync(new QueueSpec("ttl", Arguments: new Dictionary<string, object?> { ["x-message-ttl"] = 1_000L }), CancellationToken.None);
        var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        await publisher.PublishAsync(string.Empty, "ttl", new MessageProperties { MessageId = "old" }, ReadOnlyMemory<byte>.Empty, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(600));
        await publisher.PublishAsync(string.Empty, "ttl", new MessageProperties { MessageId = "young" }, ReadOnlyMemory<byte>.Empty, CancellationToken.None);

        time.Advance(TimeSpan.FromMilliseconds(401));

        Assert.Equal(1, broker.GetMessageCount("/", "ttl"));
        var recorder = await DeliveryRecorder.StartAsync(connection, "ttl", new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, CancellationToken.None);
        await Eventually.TrueAsync(() => recorder.Count == 1, TimeSpan.FromSeconds(10));
        Assert.Equal(["young"], recorder.MessageIds);
    }

    [Theory]
    [InlineData("x-queue-type", "stream")]
    [InlineData("x-expires", 0L)]
    [InlineData("x-message-ttl", -1L)]
    [InlineData("x-message-ttl", "soon")]
    public async Task InvalidQueueArguments_ThrowPreconditionFailed(string argument, object value)
    {
        var connection = await broker.ConnectAsync();

        await Assert.ThrowsAsync<PreconditionFailedException>(async () =>
            await connection.DeclareQueueAsync(new QueueSpec("invalid", Arguments: new Dictionary<string, object?> { [argument] = value }), CancellationToken.None));
    }

    private static QueueSpec Expiring(string name, long milliseconds) =>
        new(name, Arguments: new Dictionary<string, object?> { ["x-expires"] = milliseconds, ["x-queue-type"] = "quorum" });
}
