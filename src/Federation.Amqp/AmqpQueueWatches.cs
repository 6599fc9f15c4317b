using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// Watches queues of one connection for their deletion (the lease queues of <see cref="ExclusiveQueueLeases"/>): each
/// watched queue gets a no-ack consumer, and RabbitMQ cancels a consumer with <c>basic.cancel</c> the moment its queue is
/// deleted, by whomever (consumer cancel notification, which RabbitMQ.Client asks for).
/// </summary>
/// <remarks>
/// <para>
/// All the watches of a connection share one channel. A channel per watch would not scale: a host with thousands of links
/// holds thousands of leases on one downstream connection, and RabbitMQ allows 2047 channels per connection by default.
/// Consumers per channel have no such limit, and an idle consumer costs the broker next to nothing.
/// </para>
/// <para>
/// Why consumers and not a periodic passive declare of each lease queue: the broker tells at once, so the holder stops
/// well before a waiting engine's next poll (at least 0.5 s later) can take the lease; a check would have to run more
/// often than that poll to close the gap, which for thousands of leases is thousands of round trips a second. The
/// notification costs nothing while nothing happens.
/// </para>
/// <para>
/// If the shared channel closes while the connection lives (it takes a channel error, such as a consume of a queue
/// deleted a moment before), nobody can tell any more which watched queues still exist, so every watch on it reports
/// its queue deleted: the holders assume their leases lost and ask for them again, which costs a restart of their links
/// but never lets two engines run one. Later watches open a new channel.
/// </para>
/// </remarks>
internal sealed class AmqpQueueWatches(AmqpConnection connection) : IDisposable
{
    // How long a watch's own cancel may take: it runs while a lease is released, which must not hang on a silent broker.
    private static readonly TimeSpan CancelTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim channelLock = new(1, 1);
    private IChannel? channel;

    // Whether a consume on the shared channel has worked yet, and whether the user may not consume from lease queues at
    // all (no 'read' permission on them): then leases go unwatched, lost only with their connection, as before watches.
    private bool proven;
    private bool refused;

    /// <summary>Starts watching <paramref name="queue"/>.</summary>
    /// <exception cref="ResourceNotFoundException">The queue does not exist (it was deleted since it was declared).</exception>
    public async ValueTask<IQueueWatch> WatchAsync(string queue, CancellationToken cancellationToken)
    {
        connection.ThrowIfClosed();
        await channelLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (refused)
            {
                return Unwatched.Instance;
            }

            // Until a consume has worked, the channel is fresh and watches nothing else (a failed consume closes it): a
            // user without 'read' on the lease queues gets a 403 that costs no other watch, and leases go unwatched from
            // then on (the README's permissions did not ask for 'read' before watches existed), instead of failing.
            var shared = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            var watch = new Watch(shared, queue);
            try
            {
                await shared.BasicConsumeAsync(queue, autoAck: true, watch, cancellationToken).ConfigureAwait(false);
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException refusal) when (!proven && refusal.ShutdownReason?.ReplyCode == AccessRefused && connection.ClosedError() is null)
            {
                refused = true;
                return Unwatched.Instance;
            }
            catch (Exception error) when (AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
            {
                throw mapped;
            }

            proven = true;
            return watch;
        }
        finally
        {
            channelLock.Release();
        }
    }

    private const ushort AccessRefused = 403;

    /// <summary>Called as the connection closes, which closes the channel and so every watch.</summary>
    public void Dispose()
    {
        channel?.Dispose();
        channelLock.Dispose();
    }

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (channel is { IsOpen: true } open)
        {
            return open;
        }

        channel?.Dispose();
        channel = null;
        channel = await connection.CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
        return channel;
    }

    /// <summary>No watch: the user may not consume from the queue. The lease is lost only with its connection.</summary>
    private sealed class Unwatched : IQueueWatch
    {
        public static readonly Unwatched Instance = new();

        public Task Deleted { get; } = new TaskCompletionSource().Task;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>One watched queue: a no-ack consumer that never expects a message, only its cancel.</summary>
    private sealed class Watch(IChannel channel, string queue) : AsyncDefaultBasicConsumer(channel), IQueueWatch
    {
        private readonly TaskCompletionSource deleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool disposed;

        public Task Deleted => deleted.Task;

        public override Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
        {
            // basic.cancel from the broker: the queue was deleted (or the node that had it went away).
            Gone();
            return base.HandleBasicCancelAsync(consumerTag, cancellationToken);
        }

        public override async Task HandleChannelShutdownAsync(object channel, ShutdownEventArgs reason)
        {
            await base.HandleChannelShutdownAsync(channel, reason).ConfigureAwait(false);
            Gone(); // see the remarks of AmqpQueueWatches: a closed channel watches nothing any more
        }

        public override Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange, string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
            Task.CompletedTask; // Somebody published to a lease queue: nothing for us, and no-ack already took it off.

        public async ValueTask DisposeAsync()
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            if (deleted.Task.IsCompleted || ConsumerTags.Length == 0 || !Channel.IsOpen)
            {
                return;
            }

            try
            {
                using var timeout = new CancellationTokenSource(CancelTimeout);
                await Channel.BasicCancelAsync(ConsumerTags[0], noWait: false, timeout.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The consumer may be gone with its queue or its channel already; not watching is all we wanted.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        private void Gone()
        {
            if (!disposed)
            {
                deleted.TrySetResult();
            }
        }

        public override string ToString() => $"watch of queue '{queue}'";
    }
}
