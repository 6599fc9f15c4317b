using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// Consumes a queue on its own channel. The client dispatches one delivery at a time per channel (dispatch concurrency 1),
/// so the handler sees deliveries in queue order and the next one only after it returned. Bodies and properties are
/// copied out of the client's buffers, which are only valid during the callback.
/// </summary>
internal sealed class AmqpConsumer : AsyncDefaultBasicConsumer, IMessageConsumer
{
    // Lets DisposeAsync, called from this consumer's own handler, avoid waiting for the dispatch that is running it.
    private static readonly AsyncLocal<AmqpConsumer?> ConsumerRunningHandler = new();

    private readonly AmqpConnection connection;
    private readonly string queue;
    private readonly ConsumerOptions options;
    private readonly DeliveryHandler handler;
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<ulong> unsettled = [];
    private ulong lastDeliveryTag;
    private ulong settledThrough;
    private volatile bool disposing;

    private AmqpConsumer(AmqpConnection connection, IChannel channel, string queue, ConsumerOptions options, DeliveryHandler handler)
        : base(channel)
    {
        this.connection = connection;
        this.queue = queue;
        this.options = options;
        this.handler = handler;
    }

    public Task Completion => completion.Task;

    public static async Task<AmqpConsumer> StartAsync(AmqpConnection connection, string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken)
    {
        var channel = await connection.CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
        var consumer = new AmqpConsumer(connection, channel, queue, options, handler);
        try
        {
            if (!options.AutoAck)
            {
                if (options.Prefetch > ushort.MaxValue)
                {
                    // basic.qos carries the prefetch count in 16 bits: refused, rather than cut down without a word.
                    throw new PreconditionFailedException($"prefetch-count {options.Prefetch} is above AMQP's limit of {ushort.MaxValue} (basic.qos carries it in 16 bits); set it to at most {ushort.MaxValue}.");
                }

                await channel.BasicQosAsync(0, (ushort)Math.Max(options.Prefetch, 0), global: false, cancellationToken).ConfigureAwait(false);
            }

            await channel.BasicConsumeAsync(queue, options.AutoAck, consumer, cancellationToken).ConfigureAwait(false);
            return consumer;
        }
        catch (Exception error)
        {
            consumer.disposing = true;
            channel.Dispose();
            if (AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
    }

    public ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfUnknown(deliveryTag, multiple);
        return SettleAsync(deliveryTag, multiple, requeue: null);
    }

    public ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfUnknown(deliveryTag, multiple);
        return SettleAsync(deliveryTag, multiple, requeue);
    }

    public async ValueTask DisposeAsync()
    {
        if (disposing)
        {
            return;
        }

        disposing = true;
        await stopping.CancelAsync().ConfigureAwait(false);
        if (ConsumerRunningHandler.Value == this)
        {
            // Closing waits for the dispatcher, which is running us: close in the background instead.
            _ = Task.Run(CloseChannelAsync, CancellationToken.None);
            return;
        }

        await CloseChannelAsync().ConfigureAwait(false);
    }

    public override Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange, string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        // Set in a method that is not async, so the value stays in the flow of the client's dispatch loop for this channel
        // (which is ours alone) and later deliveries find it already set: setting an AsyncLocal allocates an execution
        // context, and doing it inside the async method below (whose changes do not reach its caller) cost one per delivery.
        // Whatever runs in that flow is the dispatcher's, for which closing in the background is right (see DisposeAsync).
        if (ConsumerRunningHandler.Value != this)
        {
            ConsumerRunningHandler.Value = this;
        }

        return DeliverAsync(deliveryTag, redelivered, exchange, routingKey, properties, body);
    }

    private async Task DeliverAsync(ulong deliveryTag, bool redelivered, string exchange, string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body)
    {
        if (disposing)
        {
            return; // Unacked deliveries return to the queue when the channel closes.
        }

        lock (unsettled)
        {
            lastDeliveryTag = deliveryTag;
            if (!options.AutoAck)
            {
                unsettled.Add(deliveryTag);
            }
        }

        var delivery = new Delivery(deliveryTag, redelivered, exchange, routingKey, AmqpProperties.FromAmqp(properties), body.ToArray());
        try
        {
            await handler(delivery, stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Disposed while the handler ran.
        }
#pragma warning disable CA1031 // A failing handler stops its consumer (its unacked messages are requeued), like a crashed channel.
        catch (Exception handlerFailure)
#pragma warning restore CA1031
        {
            // The handler's failure may carry another broker's text; this connection's credentials at least never pass.
            var endpoint = connection.Endpoint;
            Stop(new TransportException(
                $"The handler for queue '{queue}' failed: {AmqpErrors.Scrub(handlerFailure.Message, endpoint.User, endpoint.Password)}",
                AmqpErrors.SafeInner(handlerFailure, endpoint.User, endpoint.Password)));
            _ = Task.Run(CloseChannelAsync, CancellationToken.None);
        }
    }

    public override Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
    {
        // basic.cancel from the broker: the queue was deleted (or its node went away).
        Stop(new TransportException($"The broker cancelled the consumer of queue '{queue}' (was the queue deleted?)."));
        _ = Task.Run(CloseChannelAsync, CancellationToken.None);
        return base.HandleBasicCancelAsync(consumerTag, cancellationToken);
    }

    protected override Task OnCancelAsync(string[] consumerTags, CancellationToken cancellationToken = default)
    {
        if (disposing)
        {
            completion.TrySetResult();
        }

        return base.OnCancelAsync(consumerTags, cancellationToken);
    }

    public override async Task HandleChannelShutdownAsync(object channel, ShutdownEventArgs reason)
    {
        await base.HandleChannelShutdownAsync(channel, reason).ConfigureAwait(false);
        if (disposing || connection.IsDisposing)
        {
            Stop(null);
        }
        else
        {
            Stop(connection.ClosedError() ?? AmqpErrors.FromReason(reason, AmqpErrors.Operation.Other, null, connection.Endpoint));
        }
    }

    private void Stop(Exception? reason)
    {
        stopping.Cancel();
        if (reason is null)
        {
            completion.TrySetResult();
        }
        else
        {
            completion.TrySetException(reason);
        }
    }

    private async Task CloseChannelAsync()
    {
        try
        {
            await Channel.CloseAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The channel may already be closed with the connection.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        Stop(null);
        Channel.Dispose();
    }

    private void ThrowIfUnknown(ulong deliveryTag, bool multiple)
    {
        // RabbitMQ answers an unknown tag by closing the channel (406) with nobody waiting; checking here keeps the
        // consumer alive and gives the caller the error.
        lock (unsettled)
        {
            if (!multiple)
            {
                if (!unsettled.Remove(deliveryTag))
                {
                    throw UnknownTag(deliveryTag);
                }

                return;
            }

            // AMQP: multiple with tag 0 settles everything outstanding. Tags increase by one per delivery, and nothing at
            // or below settledThrough is unsettled, so walking up from there costs each tag once over the channel's life.
            var upTo = deliveryTag == 0 ? lastDeliveryTag : deliveryTag;
            if (upTo > lastDeliveryTag)
            {
                throw UnknownTag(deliveryTag);
            }

            var removed = 0;
            for (var tag = settledThrough + 1; tag <= upTo && unsettled.Count > 0; tag++)
            {
                removed += unsettled.Remove(tag) ? 1 : 0;
            }

            if (removed == 0 && deliveryTag != 0)
            {
                throw UnknownTag(deliveryTag);
            }

            settledThrough = Math.Max(settledThrough, upTo);
        }
    }

    private PreconditionFailedException UnknownTag(ulong deliveryTag) =>
        new($"PRECONDITION_FAILED - unknown delivery tag {deliveryTag} on the consumer of queue '{queue}'.");

    /// <summary>Acks (<paramref name="requeue"/> null) or nacks; no delegate, as a closure per settlement was an allocation per ack.</summary>
    private async ValueTask SettleAsync(ulong deliveryTag, bool multiple, bool? requeue)
    {
        if (Channel is not { IsOpen: true } open)
        {
            throw connection.ClosedError() ?? new TransportException($"The consumer on queue '{queue}' is no longer active.");
        }

        try
        {
            if (requeue is { } giveBack)
            {
                await open.BasicNackAsync(deliveryTag, multiple, giveBack, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await open.BasicAckAsync(deliveryTag, multiple, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception error) when (AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
        {
            throw mapped;
        }
    }
}
