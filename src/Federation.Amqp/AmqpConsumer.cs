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
    private readonly TaskCompletionSource cancelAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<ulong> unsettled = [];
    private readonly Lock unreadableGate = new();
    private ulong lastDeliveryTag;
    private ConnectionLostException? unreadableError;
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
        if (!options.AutoAck && UnreadableMessageRemoval.TakeSuspicion(connection.Endpoint, queue) is { } clientError)
        {
            await RemoveUnreadableAsync(connection, queue, options, clientError, cancellationToken).ConfigureAwait(false);
        }

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

            // Watched on the connection, not only on the channel: the session may dispose this consumer (its connection
            // is lost) before the channel hears of the shutdown, and the unreadable delivery must be accounted for anyway.
            connection.Client.ConnectionShutdownAsync += consumer.OnConnectionShutdownAsync;
            await channel.BasicConsumeAsync(queue, options.AutoAck, consumer, cancellationToken).ConfigureAwait(false);
            return consumer;
        }
        catch (Exception error)
        {
            consumer.disposing = true;
            connection.Client.ConnectionShutdownAsync -= consumer.OnConnectionShutdownAsync;
            channel.Dispose();
            if (AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
    }

    /// <summary>
    /// The last consumer of <paramref name="queue"/> lost its connection because the client could not read a delivery
    /// (<paramref name="clientError"/>): removes the messages at the head that the client cannot read, each counted as
    /// dropped, before consuming again (see <see cref="UnreadableMessageRemoval"/>).
    /// </summary>
    /// <exception cref="TransportException">
    /// They could not be looked at: fails this attempt with the cause, the queue and how to remove them by hand. The mark
    /// is gone, so the next attempt consumes; should the message still be there, its crash marks the queue again.
    /// </exception>
    private static async Task RemoveUnreadableAsync(AmqpConnection connection, string queue, ConsumerOptions options, string clientError, CancellationToken cancellationToken)
    {
        IReadOnlyList<UnreadableMessageRemoval.Removed> removed;
        UnreadableMessageRemoval.RemovalFailedException? failure = null;
        try
        {
            removed = await UnreadableMessageRemoval.RemoveAsync(
                connection.Endpoint, connection.Name + " (removing unreadable messages)", queue, UnreadableMessageRemoval.Depth(options.Prefetch), cancellationToken).ConfigureAwait(false);
        }
        catch (UnreadableMessageRemoval.RemovalFailedException error)
        {
            removed = error.Removed;
            failure = error;
        }

        foreach (var message in removed)
        {
            options.Dropped?.Invoke(UnreadableMessageRemoval.DropReason, 1, UnreadableMessageRemoval.Cause(message, queue));
        }

        if (failure?.InnerException is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            // The link is stopping or restarting: the next consumer of the queue looks again.
            UnreadableMessageRemoval.Suspect(connection.Endpoint, queue, clientError);
            throw new OperationCanceledException("Removing unreadable messages was cancelled.", failure, cancellationToken);
        }

        if (failure is not null)
        {
            throw new TransportException(
                $"RabbitMQ.Client could not read a message of queue '{PrintableWireText.Escape(queue)}' ({clientError}) and closed the connection over it; " +
                $"looking for it with a connection of its own failed ({failure.Message}), so it may still be in the queue; " +
                UnreadableMessageRemoval.ManualRemoval(connection.Endpoint, queue),
                failure);
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
            _ = Task.Run(CancelThenCloseChannelAsync, CancellationToken.None);
            return;
        }

        await CancelThenCloseChannelAsync().ConfigureAwait(false);
    }

    /// <summary>How long an auto-ack consumer waits for the broker's cancel-ok before it closes its channel anyway.</summary>
    private static readonly TimeSpan CancelWithin = TimeSpan.FromSeconds(2);

    /// <summary>
    /// An auto-ack consumer first cancels with basic.cancel and waits for the broker's answer: the broker removed each message
    /// as it sent it, and closing the channel straight away let the client discard the deliveries still on their way, counted
    /// nowhere. The broker sends cancel-ok after its last delivery and the client dispatches in order, so once the answer has
    /// been dispatched (<see cref="OnCancelAsync"/>) every delivery has reached <see cref="DeliverAsync"/>, which counts it as
    /// dropped. A consumer with acks closes at once: what it did not acknowledge goes back to the queue.
    /// </summary>
    private async Task CancelThenCloseChannelAsync()
    {
        if (options.AutoAck && Channel.IsOpen && ConsumerTags is [var tag, ..])
        {
            try
            {
                using var limit = new CancellationTokenSource(CancelWithin);
                await Channel.BasicCancelAsync(tag, noWait: false, limit.Token).ConfigureAwait(false);
                await cancelAnswered.Task.WaitAsync(limit.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A broker that does not answer in time, or a channel closing meanwhile: the channel is closed anyway.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
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
            // Unacked deliveries return to the queue when the channel closes; an auto-acked one the broker has removed.
            if (options.AutoAck)
            {
                options.Dropped?.Invoke(ShutdownDropReason, 1, $"a message of queue '{PrintableWireText.Escape(queue)}' arrived after its no-ack consumer was cancelled, and the broker had already removed it; dropped");
            }

            return;
        }

        MessageProperties mapped;
        try
        {
            mapped = AmqpProperties.FromAmqp(properties);
        }
#pragma warning disable CA1031 // Whatever the mapping throws is about this one message: it must not stop the link.
        catch (Exception mappingFailure)
#pragma warning restore CA1031
        {
            await DropUnmappableAsync(deliveryTag, exchange, routingKey, mappingFailure).ConfigureAwait(false);
            return;
        }

        lock (unsettled)
        {
            lastDeliveryTag = deliveryTag;
            if (!options.AutoAck)
            {
                unsettled.Add(deliveryTag);
            }
        }

        var delivery = new Delivery(deliveryTag, redelivered, exchange, routingKey, mapped, body.ToArray());
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

    /// <summary>
    /// Settles a delivery whose properties cannot be mapped (no known message does that any more, but a handler must never
    /// see half a message, and a tag it never sees must not stay unsettled): rejected without requeue (a dead-letter
    /// exchange on the queue keeps it), then counted as dropped. It never reaches the handler, so no later ack names it.
    /// </summary>
    private async Task DropUnmappableAsync(ulong deliveryTag, string exchange, string routingKey, Exception mappingFailure)
    {
        if (!options.AutoAck)
        {
            try
            {
                await Channel.BasicRejectAsync(deliveryTag, requeue: false, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The channel is closing: the message goes back to the queue, and comes back here.
            catch (Exception)
#pragma warning restore CA1031
            {
                return;
            }
        }

        options.Dropped?.Invoke(UnreadableMessageRemoval.DropReason, 1,
            $"the properties of a message in queue '{PrintableWireText.Escape(queue)}' (published to '{PrintableWireText.Escape(exchange)}' with routing key " +
            $"'{PrintableWireText.Escape(routingKey)}') cannot be mapped ({mappingFailure.GetType().Name}: {mappingFailure.Message}); " +
            (options.AutoAck ? "dropped" : "rejected without requeue (a dead-letter exchange on the queue keeps it)"));
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
        cancelAnswered.TrySetResult();
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
        else if (UnreadableMessageRemoval.IsClientReadFailure(connection.Client.CloseReason ?? reason))
        {
            Stop(Unreadable(connection.Client.CloseReason ?? reason));
        }
        else
        {
            Stop(connection.ClosedError() ?? AmqpErrors.FromReason(reason, AmqpErrors.Operation.Other, null, connection.Endpoint));
        }
    }

    /// <summary>
    /// The client closed the connection because it could not parse a delivery: on this connection only this consumer
    /// receives messages, so the message is in this queue. With acks it went back to the head of the queue, and the next
    /// consumer removes it first (<see cref="UnreadableMessageRemoval"/>); without, the broker has removed it already, and
    /// it is counted as dropped now.
    /// </summary>
    private ConnectionLostException Unreadable(ShutdownEventArgs reason)
    {
        // Once per consumer: both the connection's and the channel's shutdown report it.
        lock (unreadableGate)
        {
            return unreadableError ??= UnreadableOnce(reason);
        }
    }

    private ConnectionLostException UnreadableOnce(ShutdownEventArgs reason)
    {
        var clientError = $"{reason.ReplyCode} {AmqpErrors.Scrub(reason.ReplyText, connection.Endpoint.User, connection.Endpoint.Password)}";
        var printableQueue = PrintableWireText.Escape(queue);
        if (options.AutoAck)
        {
            options.Dropped?.Invoke(UnreadableMessageRemoval.DropReason, 1,
                $"RabbitMQ.Client cannot read a message of queue '{printableQueue}' ({clientError}) and closed the connection over it; with no-ack the broker had removed it " +
                "already (and whatever was delivered after it on that connection is lost too)");
            return new ConnectionLostException($"RabbitMQ.Client could not read a delivery from queue '{printableQueue}' ({clientError}) and closed the connection; the link reconnects.");
        }

        UnreadableMessageRemoval.Suspect(connection.Endpoint, queue, clientError);
        return new ConnectionLostException(
            $"RabbitMQ.Client could not read a delivery from queue '{printableQueue}' ({clientError}) and closed the connection; the message went back to the queue, " +
            "and the link removes it (rejected without requeue, counted as dropped: unreadable) before it consumes again.");
    }

    private Task OnConnectionShutdownAsync(object sender, ShutdownEventArgs reason)
    {
        if (UnreadableMessageRemoval.IsClientReadFailure(reason))
        {
            _ = Unreadable(reason);
        }

        return Task.CompletedTask;
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

    /// <summary>The drop reason for an auto-acked delivery that arrives once the consumer is being disposed.</summary>
    internal const string ShutdownDropReason = "shutdown";

    private async Task CloseChannelAsync()
    {
        try
        {
            connection.Client.ConnectionShutdownAsync -= OnConnectionShutdownAsync;
        }
        catch (ObjectDisposedException)
        {
            // The client refuses even an unsubscribe once its connection is disposed (the engine disposes a lost downstream
            // before whoever consumed on it gets round to closing): nothing is left to unsubscribe from.
        }

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
