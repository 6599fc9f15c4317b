using System.Threading.Channels;
using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// A consumer. The broker assigns deliveries under the virtual host lock and writes them to a channel; a background pump
/// hands them to the handler one at a time, so a handler never runs inside a publisher's call and may itself publish or ack.
/// </summary>
internal sealed class InMemoryConsumer : IMessageConsumer
{
    // Lets DisposeAsync, called from this consumer's own handler, skip waiting for the pump that is running it.
    private static readonly AsyncLocal<InMemoryConsumer?> ConsumerRunningHandler = new();

    private readonly BrokerVirtualHost virtualHost;
    private readonly ConsumerOptions options;
    private readonly DeliveryHandler handler;
    private readonly Channel<Delivery> deliveries = Channel.CreateUnbounded<Delivery>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<ulong, QueuedMessage> unacked = [];
    private readonly List<KeyValuePair<ulong, QueuedMessage>> settling = [];
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task pump;
    private ulong lastDeliveryTag;
    private bool detached;
    private Exception? stopReason;

    public InMemoryConsumer(BrokerVirtualHost virtualHost, BrokerQueue queue, InMemoryConnection connection, ConsumerOptions options, DeliveryHandler handler)
    {
        this.virtualHost = virtualHost;
        this.options = options;
        this.handler = handler;
        Queue = queue;
        Connection = connection;
        pump = Task.Run(PumpAsync);
    }

    public BrokerQueue Queue { get; }

    public InMemoryConnection Connection { get; }

    public Task Completion => completion.Task;

    /// <summary>Whether the prefetch window has room. Call under the virtual host lock.</summary>
    public bool HasCapacity => options.AutoAck || options.Prefetch == 0 || unacked.Count < options.Prefetch;

    /// <summary>Assigns the next delivery tag and queues the delivery for the handler. Call under the virtual host lock.</summary>
    public void Deliver(QueuedMessage queued)
    {
        var deliveryTag = ++lastDeliveryTag;
        if (!options.AutoAck)
        {
            unacked.Add(deliveryTag, queued);
        }

        var message = queued.Message;
        deliveries.Writer.TryWrite(new Delivery(deliveryTag, queued.Redelivered, message.Exchange, message.RoutingKey, MessagePropertiesCopier.DeepClone(message.Properties), message.Body));
    }

    /// <summary>
    /// Stops the consumer: no further deliveries, the handler's token is cancelled, and <see cref="Completion"/> ends with
    /// <paramref name="reason"/> (success when null) once the pump exits. Returns the unacknowledged messages in delivery order.
    /// Call under the virtual host lock.
    /// </summary>
    public List<QueuedMessage> Detach(Exception? reason)
    {
        if (detached)
        {
            return [];
        }

        detached = true;
        stopReason = reason;
        var returned = unacked.OrderBy(pair => pair.Key).Select(pair => pair.Value).ToList();
        unacked.Clear();
        deliveries.Writer.TryComplete();

        // CancelAsync runs the token's callbacks on another thread, so handler code never runs under the broker lock.
        _ = stopping.CancelAsync();
        return returned;
    }

    /// <summary>Waits until the handler has returned for good, unless called from that handler (which would wait for itself).</summary>
    public Task WhenStoppedAsync() => ConsumerRunningHandler.Value == this ? Task.CompletedTask : pump;

    public ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken) =>
        Settle(deliveryTag, multiple, requeue: false, cancellationToken);

    public ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken) =>
        Settle(deliveryTag, multiple, requeue, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        lock (virtualHost.Sync)
        {
            if (!detached)
            {
                virtualHost.RemoveConsumerCore(this, reason: null);
            }
        }

        await WhenStoppedAsync().ConfigureAwait(false);
    }

    private ValueTask Settle(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (virtualHost.Sync)
        {
            if (detached)
            {
                return ValueTask.FromException(Connection.IsClosed
                    ? Connection.CreateClosedException()
                    : new TransportException($"The consumer on queue '{Queue.Spec.Name}' is no longer active; delivery tag {deliveryTag} cannot be settled."));
            }

            if (!TakeUnacked(deliveryTag, multiple))
            {
                return ValueTask.FromException(new TransportException($"PRECONDITION_FAILED - unknown delivery tag {deliveryTag} on the consumer of queue '{Queue.Spec.Name}'."));
            }

            if (requeue)
            {
                Queue.Requeue(settling.ConvertAll(pair => pair.Value));
            }

            settling.Clear();
            Queue.Dispatch();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Moves the settled deliveries from <see cref="unacked"/> into <see cref="settling"/>, ordered by tag.</summary>
    private bool TakeUnacked(ulong deliveryTag, bool multiple)
    {
        settling.Clear();
        if (!multiple)
        {
            if (!unacked.Remove(deliveryTag, out var single))
            {
                return false;
            }

            settling.Add(new(deliveryTag, single));
            return true;
        }

        // AMQP: multiple with tag 0 settles everything outstanding.
        if (deliveryTag > lastDeliveryTag)
        {
            return false;
        }

        var upTo = deliveryTag == 0 ? ulong.MaxValue : deliveryTag;
        foreach (var pair in unacked)
        {
            if (pair.Key <= upTo)
            {
                settling.Add(pair);
            }
        }

        settling.Sort((a, b) => a.Key.CompareTo(b.Key));
        foreach (var pair in settling)
        {
            unacked.Remove(pair.Key);
        }

        return true;
    }

    private async Task PumpAsync()
    {
        ConsumerRunningHandler.Value = this;
        var stoppingToken = stopping.Token;
        try
        {
            while (await deliveries.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (!stoppingToken.IsCancellationRequested && deliveries.Reader.TryRead(out var delivery))
                {
                    await handler(delivery, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped by Detach; stopReason says why.
        }
#pragma warning disable CA1031 // A failing handler must stop its consumer (like a crashed channel), not kill the pump silently.
        catch (Exception handlerFailure)
#pragma warning restore CA1031
        {
            lock (virtualHost.Sync)
            {
                if (!detached)
                {
                    virtualHost.RemoveConsumerCore(this, handlerFailure);
                }
            }
        }

        if (options.AutoAck)
        {
            // Auto-ack: the broker removed these from the queue when it assigned them, and the handler never got them (an
            // acked-mode consumer's go back to the queue at Detach). Lost, so counted, not dropped silently.
            long lost = 0;
            while (deliveries.Reader.TryRead(out _))
            {
                lost++;
            }

            if (lost > 0)
            {
                options.Dropped?.Invoke(ShutdownDropReason, lost, $"{lost} message(s) of queue '{Queue.Spec.Name}' were on their way to its no-ack consumer when it stopped, and the broker had already removed them; dropped");
            }
        }

        Exception? reason;
        lock (virtualHost.Sync)
        {
            reason = stopReason;
        }

        if (reason is null)
        {
            completion.TrySetResult();
        }
        else
        {
            completion.TrySetException(reason);
        }
    }

    /// <summary>The drop reason of auto-acked deliveries that had not reached the handler when the consumer stopped.</summary>
    internal const string ShutdownDropReason = "shutdown";
}
