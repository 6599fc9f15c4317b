using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

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
/// The shared channel closes while the connection lives when a consume on it is refused: a lease queue deleted between
/// its declaration and its watch (404), or already another connection's (405). That says nothing about the other watched
/// queues, so they are not reported lost (which would restart every leased link of the connection): their consumers are
/// started again on a new channel, at once. A queue deleted meanwhile, whose cancel the closed channel can no longer
/// bring, fails its new consume (404, or 405 when another connection has already declared it again) and only its watch
/// reports it deleted; so no deletion goes unseen. When the channel cannot be replaced or a consume fails otherwise,
/// every watch reports its queue deleted, as the safe answer: the holders ask for their leases again.
/// </para>
/// </remarks>
internal sealed class AmqpQueueWatches(AmqpConnection connection) : IDisposable
{
    // How long a watch's own cancel may take: it runs while a lease is released, which must not hang on a silent broker.
    private static readonly TimeSpan CancelTimeout = TimeSpan.FromSeconds(5);

    private const ushort AccessRefused = 403;
    private const ushort NotFound = 404;
    private const ushort ResourceLocked = 405;

    // Held while the channel is opened or replaced and while a consume runs on it, so consumes never race a replacement.
    private readonly SemaphoreSlim channelLock = new(1, 1);

    // The live watches (locked by itself): those a replaced channel must carry over.
    private readonly HashSet<Watch> watches = [];
    private IChannel? channel;
    private volatile bool disposed;

    // Whether a consume on the shared channel has worked yet, and whether the user may not consume from lease queues at
    // all (no 'read' permission on them): then leases go unwatched, lost only with their connection, as before watches.
    private bool proven;
    private bool refused;

    /// <summary>Starts watching <paramref name="queue"/>.</summary>
    /// <exception cref="ResourceNotFoundException">The queue does not exist (it was deleted since it was declared).</exception>
    public async ValueTask<IQueueWatch> WatchAsync(string queue, CancellationToken cancellationToken)
    {
        AmqpNames.Check(queue, "queue");
        connection.ThrowIfClosed();
        await channelLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (refused)
            {
                return Unwatched.Instance;
            }

            // Until a consume has worked, the channel is fresh and watches nothing else: a user without 'read' on the lease
            // queues gets a 403 that costs no other watch, and leases go unwatched from then on (the README's permissions
            // did not ask for 'read' before watches existed), instead of failing.
            var shared = await ChannelAsync(cancellationToken).ConfigureAwait(false);
            var watch = new Watch(this, queue);
            try
            {
                await watch.ConsumeOnAsync(shared, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationInterruptedException refusal) when (!proven && refusal.ShutdownReason?.ReplyCode == AccessRefused && connection.ClosedError() is null)
            {
                refused = true;
                return Unwatched.Instance;
            }
            catch (Exception error) when (AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
            {
                // A refused consume closed the shared channel; the other watches move to a new one (see the remarks) as soon
                // as this lock is free, or at the next watch, whichever comes first.
                throw mapped;
            }

            proven = true;
            lock (watches)
            {
                watches.Add(watch);
            }

            return watch;
        }
        finally
        {
            channelLock.Release();
        }
    }

    /// <summary>Called as the connection closes, which closes the channel and so every watch.</summary>
    public void Dispose()
    {
        disposed = true;
        channel?.Dispose();
        LoseAll();
    }

    /// <summary>
    /// The shared channel, open: a closed one is replaced, and the watches it carried start again on the new one, where a
    /// queue that went meanwhile loses its watch alone. Under <see cref="channelLock"/>.
    /// </summary>
    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (channel is { IsOpen: true } open)
        {
            return open;
        }

        Watch[] stranded;
        lock (watches)
        {
            stranded = channel is null ? [] : [.. watches];
        }

        channel?.Dispose();
        channel = null;
        try
        {
            channel = await OpenChannelAsync(cancellationToken).ConfigureAwait(false);
            for (var index = 0; index < stranded.Length; index++)
            {
                var watch = stranded[index];
                if (watch.IsOver)
                {
                    continue;
                }

                try
                {
                    await watch.ConsumeOnAsync(channel, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationInterruptedException refusal) when (refusal.ShutdownReason?.ReplyCode is NotFound or ResourceLocked && connection.ClosedError() is null)
                {
                    // Deleted while no consumer watched it (or declared again by another connection since): this lease is
                    // gone, the others are not. The refusal closed the channel too.
                    watch.Gone();
                    channel.Dispose();
                    channel = await OpenChannelAsync(cancellationToken).ConfigureAwait(false);

                    // The watches already started on the closed channel lost their consumers with it: all of them again, on
                    // the new one (the refused one is over now, so this ends).
                    index = -1;
                }
            }

            return channel;
        }
        catch (Exception error)
        {
            // Nobody can tell any more which watched queues still exist: every holder must assume its lease lost.
            LoseAll();
            if (error is not OperationCanceledException && AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
            {
                throw mapped;
            }

            throw;
        }
    }

    private async Task<IChannel> OpenChannelAsync(CancellationToken cancellationToken)
    {
        var opened = await connection.CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
        opened.ChannelShutdownAsync += OnChannelShutdownAsync;
        return opened;
    }

    private Task OnChannelShutdownAsync(object? sender, ShutdownEventArgs reason)
    {
        if (disposed || connection.IsDisposing || connection.ClosedError() is not null)
        {
            LoseAll(); // With the connection: its leases are lost with it anyway.
        }
        else
        {
            // Never block a client callback: the channel is replaced in the background.
            _ = Task.Run(() => CarryOverAsync(sender as IChannel));
        }

        return Task.CompletedTask;
    }

    /// <summary>Moves the watches of a closed channel to a new one, unless a watch call did already.</summary>
    private async Task CarryOverAsync(IChannel? closed)
    {
        try
        {
            await channelLock.WaitAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        try
        {
            bool any;
            lock (watches)
            {
                any = watches.Count > 0;
            }

            if (any && ReferenceEquals(channel, closed) && !disposed)
            {
                // The client's continuation timeout bounds every call on a broker that stopped answering.
                await ChannelAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // Background: ChannelAsync reported every watch lost already; nobody waits for this.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            channelLock.Release();
        }
    }

    private void LoseAll()
    {
        Watch[] all;
        lock (watches)
        {
            all = [.. watches];
        }

        foreach (var watch in all)
        {
            watch.Gone();
        }
    }

    private void Forget(Watch watch)
    {
        lock (watches)
        {
            watches.Remove(watch);
        }
    }

    /// <summary>No watch: the user may not consume from the queue. The lease is lost only with its connection.</summary>
    private sealed class Unwatched : IQueueWatch
    {
        public static readonly Unwatched Instance = new();

        public Task Deleted { get; } = new TaskCompletionSource().Task;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>One watched queue: a no-ack consumer on the current shared channel, which never expects a message, only its cancel.</summary>
    private sealed class Watch(AmqpQueueWatches owner, string queue) : IQueueWatch
    {
        private readonly TaskCompletionSource deleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile WatchConsumer? consumer;
        private volatile bool disposed;

        public Task Deleted => deleted.Task;

        /// <summary>Whether it needs no consumer any more: reported deleted, or disposed.</summary>
        public bool IsOver => disposed || deleted.Task.IsCompleted;

        /// <summary>Starts its consumer on <paramref name="channel"/> (the shared one, new or replaced).</summary>
        public async Task ConsumeOnAsync(IChannel channel, CancellationToken cancellationToken)
        {
            var next = new WatchConsumer(channel, this);
            await channel.BasicConsumeAsync(queue, autoAck: true, next, cancellationToken).ConfigureAwait(false);
            consumer = next;
            if (disposed)
            {
                // Disposed while its consumer moved to a new channel: that consumer is not wanted either.
                await CancelAsync(next).ConfigureAwait(false);
            }
        }

        public void Gone()
        {
            owner.Forget(this);
            if (!disposed)
            {
                deleted.TrySetResult();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            owner.Forget(this);
            if (!deleted.Task.IsCompleted && consumer is { } current)
            {
                await CancelAsync(current).ConfigureAwait(false);
            }
        }

        private static async Task CancelAsync(WatchConsumer current)
        {
            if (current.ConsumerTags.Length == 0 || !current.Channel.IsOpen)
            {
                return;
            }

            try
            {
                using var timeout = new CancellationTokenSource(CancelTimeout);
                await current.Channel.BasicCancelAsync(current.ConsumerTags[0], noWait: false, timeout.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The consumer may be gone with its queue or its channel already; not watching is all we wanted.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        public override string ToString() => $"watch of queue '{queue}'";
    }

    /// <summary>A watch's consumer on one channel. Its channel's closing is the owner's business (see the remarks).</summary>
    private sealed class WatchConsumer(IChannel channel, Watch watch) : AsyncDefaultBasicConsumer(channel)
    {
        public override Task HandleBasicCancelAsync(string consumerTag, CancellationToken cancellationToken = default)
        {
            // basic.cancel from the broker: the queue was deleted (or the node that had it went away).
            watch.Gone();
            return base.HandleBasicCancelAsync(consumerTag, cancellationToken);
        }

        public override Task HandleBasicDeliverAsync(string consumerTag, ulong deliveryTag, bool redelivered, string exchange, string routingKey, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
            Task.CompletedTask; // Somebody published to a lease queue: nothing for us, and no-ack already took it off.
    }
}
