using System.Diagnostics;
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
/// <remarks>
/// Confirms arrive on the client's connection loop, often many at once (<c>multiple</c>). The publishes they settle are
/// completed together on one thread-pool work item, whose continuations run inline: one hand-off per confirm frame
/// instead of one per message, and never the caller's code on the client's connection loop. Callers must therefore not
/// block in a continuation of one publish waiting for another publish to complete.
/// </remarks>
internal sealed class AmqpPublisher : IMessagePublisher
{
    private readonly AmqpConnection connection;
    private readonly PublisherOptions options;
    // Without confirms a publish completes once written; completions are handed off in batches of at most this many.
    private const int WrittenBatch = 256;
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    // Never disposed: late confirms may still release it, and without AvailableWaitHandle it holds nothing to free.
    private readonly SemaphoreSlim window;
    private readonly Task writer;
    private PublishChannel? channel;
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
        var pending = new Pending(exchange, routingKey, AmqpProperties.ToAmqp(properties), body, Activity.Current);
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
                await current.Channel.CloseAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The channel may already be closed with the connection.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            current.Channel.Dispose();
            FailOutstanding(current, new ConnectionLostException("The publisher was disposed before the broker confirmed the message."));
        }
    }

    private static Task<IChannel> OpenChannelAsync(AmqpConnection connection, PublisherOptions options, CancellationToken cancellationToken) =>
        connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: options.Confirms, publisherConfirmationTrackingEnabled: false), cancellationToken);

    private void Attach(IChannel newChannel)
    {
        // Each channel has its own window: a late shutdown of the previous channel must not fail the new one's publishes.
        var attached = new PublishChannel(newChannel);
        channel = attached;
        newChannel.BasicAcksAsync += (_, args) => Settle(attached, args.DeliveryTag, args.Multiple, nacked: false);
        newChannel.BasicNacksAsync += (_, args) => Settle(attached, args.DeliveryTag, args.Multiple, nacked: true);
        newChannel.ChannelShutdownAsync += (_, reason) =>
        {
            FailOutstanding(attached, ChannelClosedError(reason));
            return Task.CompletedTask;
        };
    }

    private TransportException ChannelClosedError(ShutdownEventArgs reason) =>
        connection.ClosedError() is { } lost ? lost : AmqpErrors.FromReason(reason, AmqpErrors.Operation.Other, null);

    private async Task WriteLoopAsync()
    {
        var reader = queue.Reader;
        var written = new List<Pending>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Drain what is queued without a wait per message: the client batches the frames into its socket writes.
            while (reader.TryRead(out var pending))
            {
                try
                {
                    if (await WriteAsync(pending).ConfigureAwait(false))
                    {
                        written.Add(pending);
                    }
                }
                catch (Exception error)
                {
                    Complete([pending], ConfirmOutcome.Failed, AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection.ClosedError) ?? error, releasesWindow: false);
                }

                if (written.Count == WrittenBatch)
                {
                    Complete(written, ConfirmOutcome.Acked, null, releasesWindow: false);
                    written = [];
                }
            }

            if (written.Count > 0)
            {
                Complete(written, ConfirmOutcome.Acked, null, releasesWindow: false);
                written = [];
            }
        }
    }

    /// <summary>Writes one message; returns whether it is complete once written (no confirms) rather than at its confirm.</summary>
    private async ValueTask<bool> WriteAsync(Pending pending)
    {
        // The write loop does not run in the caller's context. RabbitMQ.Client starts its publish span (when listened to)
        // under Activity.Current and writes that span's traceparent over the message's: run it under the caller's span,
        // so that it continues the caller's trace instead of starting an unrelated one. This method is async, so the
        // change ends with it and never reaches the loop.
        if (Activity.Current != pending.Caller)
        {
            Activity.Current = pending.Caller;
        }

        connection.ThrowIfClosed();
        var current = channel!;
        if (!current.Channel.IsOpen)
        {
            // A channel error (e.g. publishing to a missing exchange) closed the old channel; later publishes get a new one.
            current.Channel.Dispose();
            Attach(await OpenChannelAsync(connection, options, CancellationToken.None).ConfigureAwait(false));
            current = channel!;
        }

        var client = current.Channel;
        if (!options.Confirms)
        {
            await client.BasicPublishAsync(pending.Exchange, pending.RoutingKey, mandatory: false, pending.Properties, pending.Body, CancellationToken.None).ConfigureAwait(false);
            return true;
        }

        await window.WaitAsync().ConfigureAwait(false);
        var sequenceNumber = await client.GetNextPublishSequenceNumberAsync().ConfigureAwait(false);
        lock (current.Outstanding)
        {
            current.Outstanding.Add(sequenceNumber, pending);
        }

        // Never a cancellable token here: RabbitMQ.Client 7.1.2 (#1900) corrupts confirm accounting when one is already cancelled.
        await client.BasicPublishAsync(pending.Exchange, pending.RoutingKey, mandatory: false, pending.Properties, pending.Body, CancellationToken.None).ConfigureAwait(false);
        if (!client.IsOpen && client.CloseReason is { } reason)
        {
            // The channel closed before or while we wrote; its shutdown handler may have run before we registered.
            FailOutstanding(current, ChannelClosedError(reason));
        }

        return false;
    }

    private Task Settle(PublishChannel source, ulong deliveryTag, bool multiple, bool nacked)
    {
        var settled = new List<Pending>(multiple ? 16 : 1);
        lock (source.Outstanding)
        {
            if (multiple)
            {
                source.Outstanding.TakeUpTo(deliveryTag, settled);
            }
            else if (source.Outstanding.TryTake(deliveryTag, out var single))
            {
                settled.Add(single!);
            }
        }

        Complete(settled, nacked ? ConfirmOutcome.Nacked : ConfirmOutcome.Acked, null, releasesWindow: true);
        return Task.CompletedTask;
    }

    private void FailOutstanding(PublishChannel source, TransportException error)
    {
        var failed = new List<Pending>();
        lock (source.Outstanding)
        {
            source.Outstanding.TakeAll(failed);
        }

        Complete(failed, ConfirmOutcome.Failed, error, releasesWindow: true);
    }

    /// <summary>Frees the window at once and completes the publishes together on one work item (see the remarks above).</summary>
    private void Complete(List<Pending> settled, ConfirmOutcome outcome, Exception? error, bool releasesWindow)
    {
        if (settled.Count == 0)
        {
            return;
        }

        if (releasesWindow)
        {
            window.Release(settled.Count);
        }

        ThreadPool.UnsafeQueueUserWorkItem(new CompletionBatch(settled, outcome, error), preferLocal: false);
    }

    private sealed class Pending(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body, Activity? caller)
    {
        /// <summary>The caller's current span, under which RabbitMQ.Client's own publish span must nest (see <see cref="WriteAsync"/>).</summary>
        public Activity? Caller { get; } = caller;

        public string Exchange { get; } = exchange;

        public string RoutingKey { get; } = routingKey;

        public BasicProperties Properties { get; } = properties;

        public ReadOnlyMemory<byte> Body { get; } = body;

        /// <summary>Completed only from a <see cref="CompletionBatch"/> work item, where its continuations may run inline.</summary>
        public TaskCompletionSource Done { get; } = new();
    }

    /// <summary>A channel and the publishes on it that wait for their confirm.</summary>
    private sealed class PublishChannel(IChannel channel)
    {
        public IChannel Channel { get; } = channel;

        /// <summary>Locked by whoever touches it: the writer loop adds, the client's confirm handlers take.</summary>
        public ConfirmWindow<Pending> Outstanding { get; } = new();
    }

    private enum ConfirmOutcome
    {
        Acked,
        Nacked,
        Failed,
    }

    /// <summary>Publishes settled by one confirm frame (or one channel failure), completed in sequence order.</summary>
    private sealed class CompletionBatch(List<Pending> settled, ConfirmOutcome outcome, Exception? error) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            foreach (var pending in settled)
            {
                switch (outcome)
                {
                    case ConfirmOutcome.Acked:
                        pending.Done.TrySetResult();
                        break;
                    case ConfirmOutcome.Nacked:
                        pending.Done.TrySetException(new PublishNackedException($"The broker nacked the message published to exchange '{pending.Exchange}' with routing key '{pending.RoutingKey}'."));
                        break;
                    default:
                        pending.Done.TrySetException(error!);
                        break;
                }
            }
        }
    }
}
