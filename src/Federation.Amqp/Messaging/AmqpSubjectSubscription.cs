using System.Threading.Channels;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using RabbitMQ.Client;

namespace Federation.Amqp.Messaging;

/// <summary>
/// One <see cref="ISubjectSubscription"/>: a queue bound to the topic exchange, consumed on its own channel, read by one loop
/// that calls the handler for one message at a time. A plain subscription has its own exclusive server-named queue; a queue
/// group shares one named auto-delete queue per (group, subject) across every member. Deliveries are acknowledged when the
/// loop takes them, just before the handler runs: at-most-once, as on NATS, and the prefetch bounds what waits in memory,
/// so a slow group member leaves the queue's messages to the others.
/// </summary>
internal sealed class AmqpSubjectSubscription : AsyncDefaultBasicConsumer, ISubjectSubscription
{
    /// <summary>Unacknowledged deliveries per subscription: how far the server runs ahead of the handler.</summary>
    public const ushort Prefetch = 256;

    // The subscription whose handler is running on this logical call path: disposing it from inside its own handler must not
    // wait for that very handler call to return.
    private static readonly AsyncLocal<AmqpSubjectSubscription?> RunningHandler = new();

    // Delivery tags start at 1: 0 marks a notice the connection queued itself.
    private const ulong LocalNotice = 0;

    private readonly AmqpSubjectConnection _owner;

    /// <summary>How often this subscription's dropped unreadable messages are logged.</summary>
    internal ReportThrottle UnreadableReports { get; } = new(AmqpSubjectConnection.UnreadableReportInterval);
    private readonly SubjectMessageHandler _handler;
    private readonly MessageDropHandler? _dropped;
    // A null message is a delivery whose header the client could not read (defused on the way in): the loop rejects it.
    private readonly Channel<(SubjectMessage? Message, ulong DeliveryTag)> _inbox =
        System.Threading.Channels.Channel.CreateUnbounded<(SubjectMessage?, ulong)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private int _disposed;

    public AmqpSubjectSubscription(AmqpSubjectConnection owner, IChannel channel, string subject, string? queueGroup, SubjectMessageHandler handler, MessageDropHandler? dropped)
        : base(channel)
    {
        _owner = owner;
        Subject = subject;
        QueueGroup = queueGroup;
        _handler = handler;
        _dropped = dropped;
    }

    public string Subject { get; }

    public string? QueueGroup { get; }

    /// <summary>The queue consumed, once declared.</summary>
    public string Queue { get; set; } = string.Empty;

    /// <summary>Starts the handler loop; call once the consumer is registered.</summary>
    public void Start() => _loop = Task.Run(RunAsync, CancellationToken.None);

    /// <summary>Signals the handler's token without unsubscribing: the connection is gone.</summary>
    public void Abort()
    {
        Volatile.Write(ref _disposed, 1);
        _inbox.Writer.TryComplete();
        CancelQuietly();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _owner.Forget(this);
            _inbox.Writer.TryComplete();

            // Closing the channel cancels the consumer: a group's unacknowledged messages go back to the shared queue for the
            // other members, and a plain subscription's exclusive queue is deleted with it.
            await CloseChannelQuietlyAsync().ConfigureAwait(false);
        }

        CancelQuietly();
        if (!ReferenceEquals(RunningHandler.Value, this))
        {
            await _loop.ConfigureAwait(false);
        }
    }

    /// <summary>Queues a notice from the connection itself (no delivery: nothing to acknowledge); false once disposed.</summary>
    internal bool DeliverNotice(SubjectMessage notice) => Volatile.Read(ref _disposed) == 0 && _inbox.Writer.TryWrite((notice, LocalNotice));

    public override Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange, string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        if (_owner.Unreadable.Take((ushort)Channel.ChannelNumber, deliveryTag) is { } problem)
        {
            // Its properties were cleared before the client read them: it must not reach the handler as a message without
            // headers. Logged here, where the routing key is known; rejected by the loop, in delivery order.
            _owner.UnreadableDropped(this, Queue, exchange, routingKey, problem);
            _dropped?.Invoke(UnreadableMessageRemoval.DropReason, 1, problem);
            _inbox.Writer.TryWrite((null, deliveryTag));
        }
        else if (Volatile.Read(ref _disposed) == 0)
        {
            // The client's buffers are only valid during this callback: copy.
            var message = new SubjectMessage(routingKey, body.ToArray(), AmqpSubjectHeaders.FromAmqp(properties.Headers), properties.ReplyTo);
            _inbox.Writer.TryWrite((message, deliveryTag));
        }

        return Task.CompletedTask;
    }

    private async Task CloseChannelQuietlyAsync()
    {
        try
        {
            if (Channel.IsOpen)
            {
                await Channel.CloseAsync().ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // A channel that fails to close is gone either way: its consumer and exclusive queue go with it.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        Channel.Dispose();
    }

    private void CancelQuietly()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the loop has ended and released the source
        }
    }

    private async Task RunAsync()
    {
        RunningHandler.Value = this;
        var token = _stopping.Token;
        try
        {
            await foreach (var (message, deliveryTag) in _inbox.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    break;
                }

                if (message is null)
                {
                    await RejectAsync(deliveryTag).ConfigureAwait(false);
                    continue;
                }

                if (deliveryTag != LocalNotice)
                {
                    await AcknowledgeAsync(deliveryTag).ConfigureAwait(false);
                }

                try
                {
                    await _handler(message, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    break;
                }
#pragma warning disable CA1031 // the SPI promises that a failing handler never ends the subscription
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _owner.HandlerFailed(this, ex);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            _stopping.Dispose();
        }
    }

    /// <summary>Removes an unreadable delivery from its queue (a dead-letter exchange on the queue would keep it).</summary>
    private async ValueTask RejectAsync(ulong deliveryTag)
    {
        try
        {
            await Channel.BasicRejectAsync(deliveryTag, requeue: false, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A closed channel cannot take the reject: the message goes back to its queue and is defused again.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private async ValueTask AcknowledgeAsync(ulong deliveryTag)
    {
        try
        {
            await Channel.BasicAckAsync(deliveryTag, multiple: false, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A closed channel cannot take the ack; the message was delivered once all the same.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
