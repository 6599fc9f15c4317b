using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    [Fact]
    public async Task DeclareExchange_AgainWithSameProperties_IsNoOp()
    {
        var connection = await OpenAsync();
        var arguments = new Dictionary<string, object?> { ["alternate-exchange"] = "nowhere" };
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Topic, arguments);

        await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic, Durable: false, Arguments: new Dictionary<string, object?>(arguments)), Ct);

        Assert.True(await connection.ExchangeExistsAsync(exchange, Ct));
    }

    [Theory]
    [InlineData(ExchangeSpec.Types.Fanout, false)]
    [InlineData(ExchangeSpec.Types.Direct, true)]
    public async Task DeclareExchange_AgainWithDifferentTypeOrFlags_ThrowsPreconditionFailed(string type, bool durable)
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Direct);

        var redeclare = new ExchangeSpec(exchange, type, Durable: durable);
        if (type == ExchangeSpec.Types.Direct && !Has(TransportCapabilities.Durable))
        {
            // Only the durable flag differs, and without durability the flag has no effect: the redeclaration is a no-op.
            await connection.DeclareExchangeAsync(redeclare, Ct);
            Assert.True(await connection.ExchangeExistsAsync(exchange, Ct));
            return;
        }

        await Assert.ThrowsAsync<PreconditionFailedException>(async () => await connection.DeclareExchangeAsync(redeclare, Ct));
    }

    [Fact]
    public async Task DeclareExchange_OfUnknownType_ThrowsExchangeTypeNotSupported()
    {
        var connection = await OpenAsync();
        var name = UniqueName("unknown-type");
        DeleteAfterTest(exchange: name);

        await Assert.ThrowsAsync<ExchangeTypeNotSupportedException>(async () =>
            await connection.DeclareExchangeAsync(new ExchangeSpec(name, "x-no-such-type"), Ct));
    }

    [Fact]
    public async Task Declare_WithANameOver255BytesOfUtf8_ThrowsNameTooLong_WhereTopologyIsServerSide()
    {
        if (!Has(TransportCapabilities.ServerSideTopology))
        {
            return; // The limit is AMQP's short string; a transport without server-side objects names them its own way.
        }

        var connection = await OpenAsync();

        // Two-byte characters: the limit counts bytes, not characters (this name is far fewer than 255 characters).
        var fits = UniqueName("long") + ".";
        fits += new string('é', (255 - System.Text.Encoding.UTF8.GetByteCount(fits)) / 2);
        fits += new string('x', 255 - System.Text.Encoding.UTF8.GetByteCount(fits));
        var over = fits + "é"; // 257 bytes
        DeleteAfterTest(exchange: fits, queue: fits);
        Assert.Equal(255, System.Text.Encoding.UTF8.GetByteCount(fits));

        await connection.DeclareExchangeAsync(new ExchangeSpec(fits, ExchangeSpec.Types.Fanout, Durable: false), Ct);
        await connection.DeclareQueueAsync(new QueueSpec(fits, Durable: false), Ct);
        var exchange = await Assert.ThrowsAsync<NameTooLongException>(async () => await connection.DeclareExchangeAsync(new ExchangeSpec(over, ExchangeSpec.Types.Fanout, Durable: false), Ct));
        var queue = await Assert.ThrowsAsync<NameTooLongException>(async () => await connection.DeclareQueueAsync(new QueueSpec(over, Durable: false), Ct));

        Assert.Equal(over, exchange.Name);
        Assert.Equal(255, queue.MaxBytes);
        Assert.Contains("257 bytes", queue.Message, StringComparison.Ordinal);
        Assert.True(await connection.ExchangeExistsAsync(fits, Ct), "the connection is still usable");
    }

    [Fact]
    public async Task DeleteExchange_RemovesIt_AndDeletingAMissingExchangeIsNoOp()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        Assert.True(await connection.ExchangeExistsAsync(exchange, Ct));

        await connection.DeleteExchangeAsync(exchange, Ct);
        await connection.DeleteExchangeAsync(exchange, Ct);

        Assert.False(await connection.ExchangeExistsAsync(exchange, Ct));
    }

    [Fact]
    public async Task Probes_SayWhetherAnExchangeOrAQueueExists_AndLeaveTheConnectionUsable()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        var missing = UniqueName("missing");

        Assert.True(await connection.ProbeExchangeAsync(exchange, Ct));
        Assert.False(await connection.ProbeExchangeAsync(missing, Ct));
        await connection.DeleteExchangeAsync(exchange, Ct);
        Assert.False(await connection.ProbeExchangeAsync(exchange, Ct));

        // A queue probe says yes only where the transport can tell (it counts the queue's messages).
        var queue = await DeclareQueueAsync(connection);
        var canTell = await connection.CountQueueMessagesAsync(queue, Ct) is not null;
        Assert.Equal(canTell, await connection.ProbeQueueAsync(queue, Ct));
        Assert.False(await connection.ProbeQueueAsync(missing, Ct));
        await connection.DeleteQueueAsync(queue, Ct);
        Assert.False(await connection.ProbeQueueAsync(queue, Ct));

        // A probe that found nothing cost the connection nothing (a failed passive declare can close an AMQP channel).
        var after = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        Assert.True(await connection.ExchangeExistsAsync(after, Ct));
    }

    [Fact]
    public async Task DeleteExchange_RemovesItsBindings()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        var queue = await DeclareQueueAsync(connection);
        await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, string.Empty), noWait: false, Ct);

        await connection.DeleteExchangeAsync(exchange, Ct);
        await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Fanout, Durable: false), Ct);
        var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
        var publisher = await OpenPublisherAsync(connection);
        await PublishAsync(publisher, exchange, string.Empty, "after-delete");

        Assert.Empty(await ReceivedBeforeMarkerAsync(publisher, queue, recorder));
    }

    [Fact]
    public async Task DeclareQueue_AgainWithSameArguments_IsNoOp_ButDifferentArgumentsThrowPreconditionFailed()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection, new Dictionary<string, object?> { ["x-message-ttl"] = 60_000L });

        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, Arguments: new Dictionary<string, object?> { ["x-message-ttl"] = 60_000L }), Ct);
        var different = new QueueSpec(queue, Durable: false, Arguments: new Dictionary<string, object?> { ["x-message-ttl"] = 1_000L });
        if (!Has(TransportCapabilities.ServerSideTopology))
        {
            // An emulated queue ignores its arguments, so a redeclaration with others is a no-op too, and the queue stays usable.
            await connection.DeclareQueueAsync(different, Ct);
            var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(0, AutoAck: true), ackOnReceipt: false, Ct);
            Assert.Empty(await ReceivedBeforeMarkerAsync(await OpenPublisherAsync(connection), queue, recorder));
            return;
        }

        await Assert.ThrowsAsync<PreconditionFailedException>(async () => await connection.DeclareQueueAsync(different, Ct));
    }

    [Fact]
    public async Task DeleteQueue_RemovesIt_AndDeletingAMissingQueueIsNoOp()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);

        await connection.DeleteQueueAsync(queue, Ct);
        await connection.DeleteQueueAsync(queue, Ct);

        await Assert.ThrowsAsync<ResourceNotFoundException>(async () =>
            await connection.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct));
    }

    /// <summary>
    /// Another connection's exclusive queue cannot be deleted (RabbitMQ: 405 RESOURCE_LOCKED). A lease is such a queue, and
    /// an ask given up on deletes the queue it declared: it must never take another holder's.
    /// </summary>
    [Fact]
    public async Task DeleteQueue_OfAnotherConnectionsExclusiveQueue_ThrowsResourceLocked_AndKeepsIt()
    {
        if (!Has(TransportCapabilities.ServerSideTopology))
        {
            return;
        }

        var owner = await OpenAsync();
        var other = await OpenAsync();
        var queue = UniqueName("exclusive");
        await owner.DeclareQueueAsync(new QueueSpec(queue, Durable: false, Exclusive: true), Ct);

        await Assert.ThrowsAsync<ResourceLockedException>(async () => await other.DeleteQueueAsync(queue, Ct));

        Assert.NotNull(await owner.CountQueueMessagesAsync(queue, Ct));
        await owner.DeleteQueueAsync(queue, Ct);
        Assert.Null(await owner.CountQueueMessagesAsync(queue, Ct));
    }

    [Fact]
    public async Task DeleteQueueCountingDiscarded_ReportsWhatTheQueueHeld_DeliveriesGivenBackIncluded_OrNullWhenItCannotTell()
    {
        var connection = await OpenAsync();
        var queue = await DeclareQueueAsync(connection);
        var publisher = await OpenPublisherAsync(connection);
        for (var i = 0; i < 3; i++)
        {
            await PublishToQueueAsync(publisher, queue, $"m{i}");
        }

        if (Has(TransportCapabilities.AtLeastOnce))
        {
            // A consumer takes one and closes without acking it: it is back in the queue, and goes with it.
            var recorder = await DeliveryRecorder.StartAsync(connection, queue, new ConsumerOptions(1), ackOnReceipt: false, Ct);
            await Eventually.TrueAsync(() => recorder.Count == 1, Patience, "the consumer should take one");
            await recorder.Consumer.DisposeAsync();
        }

        var discarded = await connection.DeleteQueueCountingDiscardedAsync(queue, Ct);
        var again = await connection.DeleteQueueCountingDiscardedAsync(queue, Ct);

        Assert.Equal(CountsDiscardedMessages ? 3L : (long?)null, discarded);
        Assert.Equal(CountsDiscardedMessages ? 0L : (long?)null, again);
        await Assert.ThrowsAsync<ResourceNotFoundException>(async () =>
            await connection.ConsumeAsync(queue, new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, Ct));
    }

    [Fact]
    public async Task Bind_WithMissingSourceOrDestination_ThrowsResourceNotFound()
    {
        var connection = await OpenAsync();
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Direct);
        var queue = await DeclareQueueAsync(connection);
        var missing = UniqueName("missing");

        if (Has(TransportCapabilities.ServerSideTopology))
        {
            await Assert.ThrowsAsync<ResourceNotFoundException>(async () =>
                await connection.BindAsync(new BindingSpec(missing, queue, BindingDestinationKind.Queue, "k"), noWait: false, Ct));
        }
        else
        {
            // Every subject namespace exists: binding from an undeclared exchange declares it as a topic exchange.
            var undeclared = UniqueName("undeclared");
            DeleteAfterTest(exchange: undeclared);
            await connection.BindAsync(new BindingSpec(undeclared, queue, BindingDestinationKind.Queue, "k"), noWait: false, Ct);
            Assert.True(await connection.ExchangeExistsAsync(undeclared, Ct));
            await Assert.ThrowsAsync<PreconditionFailedException>(async () =>
                await connection.DeclareExchangeAsync(new ExchangeSpec(undeclared, ExchangeSpec.Types.Fanout, Durable: false), Ct));
        }

        await Assert.ThrowsAsync<ResourceNotFoundException>(async () =>
            await connection.BindAsync(new BindingSpec(exchange, missing, BindingDestinationKind.Queue, "k"), noWait: false, Ct));
        await Assert.ThrowsAsync<ResourceNotFoundException>(async () =>
            await connection.BindAsync(new BindingSpec(exchange, missing, BindingDestinationKind.Exchange, "k"), noWait: false, Ct));
    }
}
