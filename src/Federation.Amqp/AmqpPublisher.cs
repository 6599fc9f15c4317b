using System.Threading.Channels;
using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// Publishes on its own channel. Call order is kept by an ordered writer loop: <see cref="PublishAsync"/> converts the
/// properties synchronously and queues the message on an unbounded <see cref="Channel{T}"/>, and a single loop writes the
/// messages in queue order, so pipelined calls reach the broker in call order without relying on when
/// <c>BasicPublishAsync</c> first yields. With confirms, the channel is in confirm mode without the client's own tracking
/// (which would add an <c>x-dotnet-pub-seq-no</c> header to every message); this class correlates <c>basic.ack</c>/<c>basic.nack</c>
/// by sequence number and bounds the unconfirmed messages by <see cref="PublisherOptions.MaxOutstandingConfirms"/>.
/// </summary>
internal sealed class AmqpPublisher : IMessagePublisher
{
    private readonly AmqpConnection connection;
    private readonly PublisherOptions options;
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SortedDictionary<ulong, Pending> outstanding = [];
    // Never disposed: late confirms may still release it, and without AvailableWaitHandle it holds nothing to free.
    private readonly SemaphoreSlim window;
    private readonly Task writer;
    private IChannel? channel;
    private volatile bool disposed;

    private AmqpPublisher(AmqpConnection connection, PublisherOptions options, IChannel channel)
    {
        this.connection = connection;
        this.options = options;
        window = new SemaphoreSlim(Math.Max(1, options.MaxOutstandingConfirms));
        Attach(channel);
        writer = Task.Run(WriteLoopAsync);
    }

    public static async Task<AmqpPublisher> OpenAsync(AmqpConnection connection, PublisherOptions options, CancellationToken cancellationToken)
    {
        var channel = await OpenChannelAsync(connection, options, cancellationToken).ConfigureAwait(false);
        return new AmqpPublisher(connection, options, channel);
    }

    public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        ArgumentNullException.ThrowIfNull(properties);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (disposed)
        {
            return ValueTask.FromException(new ObjectDisposedException(nameof(IMessagePublisher)));
        }

        if (connection.ClosedError() is { } closed)
        {
            return ValueTask.FromException(closed);
        }

        // Converted now: the caller may change its properties as soon as this call returns.
        var pending = new Pending(exchange, routingKey, AmqpProperties.ToAmqp(properties), body);
        if (!queue.Writer.TryWrite(pending))
        {
            return ValueTask.FromException(new ObjectDisposedException(nameof(IMessagePublisher)));
        }

        var done = pending.Done.Task;
        return new ValueTask(cancellationToken.CanBeCanceled ? done.WaitAsync(cancellationToken) : done);
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        queue.Writer.TryComplete();
        await writer.ConfigureAwait(false);
        if (channel is { } current)
        {
            try
            {
                await current.CloseAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The channel may already be closed with the connection.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            current.Dispose();
        }

        FailOutstanding(new ConnectionLostException("The publisher was disposed before the broker confirmed the message."));
    }

    private static Task<IChannel> OpenChannelAsync(AmqpConnection connection, PublisherOptions options, CancellationToken cancellationToken) =>
        connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: options.Confirms, publisherConfirmationTrackingEnabled: false), cancellationToken);

    private void Attach(IChannel newChannel)
    {
        channel = newChannel;
        newChannel.BasicAcksAsync += (_, args) => Settle(args.DeliveryTag, args.Multiple, nacked: false);
        newChannel.BasicNacksAsync += (_, args) => Settle(args.DeliveryTag, args.Multiple, nacked: true);
        newChannel.ChannelShutdownAsync += (_, reason) =>
        {
            FailOutstanding(ChannelClosedError(reason));
            return Task.CompletedTask;
        };
    }

    private TransportException ChannelClosedError(ShutdownEventArgs reason) =>
        connection.ClosedError() is { } lost ? lost : AmqpErrors.FromReason(reason, AmqpErrors.Operation.Other, null);

    private async Task WriteLoopAsync()
    {
        await foreach (var pending in queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await WriteAsync(pending).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                pending.Done.TrySetException(AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection.ClosedError) ?? error);
            }
        }
    }

    private async Task WriteAsync(Pending pending)
    {
        connection.ThrowIfClosed();
        var current = channel;
        if (current is not { IsOpen: true })
        {
            // A channel error (e.g. publishing to a missing exchange) closed the old channel; later publishes get a new one.
            current?.Dispose();
            current = await OpenChannelAsync(connection, options, CancellationToken.None).ConfigureAwait(false);
            Attach(current);
        }

        if (!options.Confirms)
        {
            await current.BasicPublishAsync(pending.Exchange, pending.RoutingKey, mandatory: false, pending.Properties, pending.Body, CancellationToken.None).ConfigureAwait(false);
            pending.Done.TrySetResult();
            return;
        }

        await window.WaitAsync().ConfigureAwait(false);
        var sequenceNumber = await current.GetNextPublishSequenceNumberAsync().ConfigureAwait(false);
        lock (outstanding)
        {
            outstanding.Add(sequenceNumber, pending);
        }

        // Never a cancellable token here: RabbitMQ.Client 7.1.2 (#1900) corrupts confirm accounting when one is already cancelled.
        await current.BasicPublishAsync(pending.Exchange, pending.RoutingKey, mandatory: false, pending.Properties, pending.Body, CancellationToken.None).ConfigureAwait(false);
        if (!current.IsOpen && current.CloseReason is { } reason)
        {
            // The channel closed before or while we wrote; its shutdown handler may have run before we registered.
            FailOutstanding(ChannelClosedError(reason));
        }
    }

    private Task Settle(ulong deliveryTag, bool multiple, bool nacked)
    {
        List<Pending> settled = [];
        lock (outstanding)
        {
            if (multiple)
            {
                foreach (var key in outstanding.Keys.TakeWhile(k => k <= deliveryTag).ToList())
                {
                    settled.Add(outstanding[key]);
                    outstanding.Remove(key);
                }
            }
            else if (outstanding.Remove(deliveryTag, out var single))
            {
                settled.Add(single);
            }
        }

        foreach (var pending in settled)
        {
            if (nacked)
            {
                pending.Done.TrySetException(new PublishNackedException($"The broker nacked the message published to exchange '{pending.Exchange}' with routing key '{pending.RoutingKey}'."));
            }
            else
            {
                pending.Done.TrySetResult();
            }
        }

        Release(settled.Count);
        return Task.CompletedTask;
    }

    private void FailOutstanding(TransportException error)
    {
        List<Pending> failed;
        lock (outstanding)
        {
            failed = [.. outstanding.Values];
            outstanding.Clear();
        }

        foreach (var pending in failed)
        {
            pending.Done.TrySetException(error);
        }

        Release(failed.Count);
    }

    private void Release(int count)
    {
        if (count > 0)
        {
            window.Release(count);
        }
    }

    private sealed class Pending(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body)
    {
        public string Exchange { get; } = exchange;

        public string RoutingKey { get; } = routingKey;

        public BasicProperties Properties { get; } = properties;

        public ReadOnlyMemory<byte> Body { get; } = body;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
