using Federation.Core.Transport;

namespace Federation.Nats.Transport;

/// <summary>
/// Consumes an emulated queue: one delivery at a time, in queue order. Core NATS is at-most-once, so acks and nacks are
/// accepted and ignored (a nack with requeue does not bring the message back), and deliveries are never redelivered.
/// </summary>
/// <remarks>
/// The queue's only consumer gets its messages on the writer's thread (the subscription's read loop, see
/// <see cref="NatsEmulatedQueue.OfferAsync"/>); its own loop hands it only what was queued before it started
/// (or what a stopped writer left). The queue's hand-off keeps the two from overlapping. A queue with several consumers
/// feeds each through its loop.
/// </remarks>
internal sealed class NatsQueueConsumer : IMessageConsumer
{
    private readonly NatsEmulatedQueue _queue;
    private readonly DeliveryHandler _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationToken _token;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly MessageDropHandler? _dropped;
    private readonly bool _receiver;
    private readonly Task _loop;
    private ulong _tag;

    // 1 while a writer hands this consumer a message on its own thread; a stop waits for it (_inlineDone).
    private int _inline;
    private TaskCompletionSource? _inlineDone;

    // A handler failed on a writer's thread: no more deliveries, by either way.
    private volatile bool _faulted;

    public NatsQueueConsumer(NatsEmulatedQueue queue, DeliveryHandler handler, MessageDropHandler? dropped, Task connectionCompletion)
    {
        _queue = queue;
        _handler = handler;
        _dropped = dropped;
        _token = _stop.Token;
        _receiver = queue.Attach(this);
        _loop = Task.Run(RunAsync);
        _ = connectionCompletion.ContinueWith(
            t => { if (t.IsFaulted) { _completion.TrySetException(t.Exception!.InnerExceptions); } },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public Task Completion => _completion.Task;

    /// <summary>False: core NATS has no redelivery, a nacked message is gone.</summary>
    public bool CanRequeue => false;

    /// <summary>False: acks do nothing here, so nothing holds deliveries back; the link bounds what it has in flight.</summary>
    public bool EnforcesPrefetch => false;

    public ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        _queue.Detach(this);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);

        // A writer that was handing this consumer a message when it stopped finishes that one; no other starts (it marks
        // _inline before it reads the stop, this marks the stop before it reads _inline).
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _inlineDone, done);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _inline) != 0)
        {
            await done.Task.ConfigureAwait(false);
        }

        if (_queue.IsClosed)
        {
            // The connection closed (lost, or disposed first): nobody will take what is left, and core NATS cannot send it
            // again. Counted here, once; a queue still open keeps it for the connection to count when it closes.
            var lost = _queue.TakeAllRemaining();
            if (lost > 0)
            {
                _dropped?.Invoke(NatsBrokerConnection.ShutdownReason, lost, NatsBrokerConnection.ClosedWithMessagesCause(_queue, lost));
            }
        }

        _completion.TrySetResult();
        _stop.Dispose();
    }

    /// <summary>
    /// Before a writer takes a message to hand this consumer on its own thread (holding the queue's hand-off): false once
    /// the consumer has stopped or failed, and the message stays queued. Else <see cref="DeliverInline"/> or
    /// <see cref="EndInline"/> follows.
    /// </summary>
    internal bool TryBeginInline()
    {
        Interlocked.Exchange(ref _inline, 1);
        if (_token.IsCancellationRequested || _faulted)
        {
            EndInline();
            return false;
        }

        return true;
    }

    /// <summary>Hands over one message on the writer's thread; the task never fails: a failing handler fails the consumer, as in its loop.</summary>
    internal ValueTask DeliverInline(NatsQueuedMessage message)
    {
        ValueTask handled;
        try
        {
            handled = DeliverAsync(message, _token);
        }
#pragma warning disable CA1031 // whatever the handler throws fails the consumer, as in its loop
        catch (Exception ex)
#pragma warning restore CA1031
        {
            InlineFailed(ex);
            EndInline();
            return ValueTask.CompletedTask;
        }

        if (handled.IsCompletedSuccessfully)
        {
            handled.GetAwaiter().GetResult();
            EndInline();
            return ValueTask.CompletedTask;
        }

        return AwaitInlineAsync(handled);
    }

    private async ValueTask AwaitInlineAsync(ValueTask handled)
    {
        try
        {
            await handled.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // whatever the handler throws fails the consumer, as in its loop
        catch (Exception ex)
#pragma warning restore CA1031
        {
            InlineFailed(ex);
        }
        finally
        {
            EndInline();
        }
    }

    private void InlineFailed(Exception ex)
    {
        if (ex is OperationCanceledException && _token.IsCancellationRequested)
        {
            return; // stopped meanwhile, as in the loop
        }

        _faulted = true;
        _completion.TrySetException(ex);
    }

    /// <summary>A writer is done handing this consumer a message.</summary>
    internal void EndInline()
    {
        Interlocked.Exchange(ref _inline, 0);
        Volatile.Read(ref _inlineDone)?.TrySetResult();
    }

    /// <summary>Maps one message and calls the handler with it (the queue's hand-off serialises the calls).</summary>
    private ValueTask DeliverAsync(NatsQueuedMessage message, CancellationToken token)
    {
        if (!TryMap(message, out var properties))
        {
            return ValueTask.CompletedTask;
        }

        var delivery = new Delivery(
            ++_tag,
            false,
            message.Exchange,
            message.RoutingKey,
            properties,
            message.Body);
        return _handler(delivery, token);
    }

    private async Task RunAsync()
    {
        var token = _token;
        try
        {
            // The token is checked here too: WaitToReadAsync answers at once while the queue holds messages, so a consumer
            // stopped with messages waiting would otherwise go round this loop for ever.
            while (!token.IsCancellationRequested && !_faulted && await _queue.WaitToReadAsync(token).ConfigureAwait(false))
            {
                if (_receiver && !_queue.TryBeginHandOff())
                {
                    var freed = _queue.HandOffFreed();
                    if (!_queue.TryBeginHandOff())
                    {
                        // A writer hands this consumer what is queued; look again once it is done.
                        await freed.WaitAsync(token).ConfigureAwait(false);
                        continue;
                    }
                }

                try
                {
                    while (!token.IsCancellationRequested && !_faulted && _queue.TryTake(out var message))
                    {
                        try
                        {
                            await DeliverAsync(message, token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (token.IsCancellationRequested)
                        {
                            return;
                        }
                    }
                }
                finally
                {
                    if (_receiver)
                    {
                        _queue.EndHandOff();
                    }
                }
            }

            if (_faulted)
            {
                return; // failed on a writer's thread: the completion has the failure
            }

            // The queue was completed without error (connection disposed).
            _completion.TrySetResult();
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Queue deleted (ResourceNotFoundException), connection lost, or a failing handler.
            _faulted = true; // writers stop handing it messages
            _completion.TrySetException(ex);
        }
    }

    /// <summary>
    /// Maps a message's headers. One that cannot be mapped is that message's fault: failing the consumer over it would
    /// restart the link, losing what core NATS delivers meanwhile, at every such message; it is dropped and counted instead.
    /// </summary>
    private bool TryMap(NatsQueuedMessage message, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MessageProperties? properties)
    {
        try
        {
            properties = NatsMessageMapping.ToProperties(message.Headers);
            return true;
        }
#pragma warning disable CA1031 // Whatever the mapping throws is about this message only.
        catch (Exception error)
#pragma warning restore CA1031
        {
            properties = null;
            _dropped?.Invoke(NatsBrokerConnection.UnreadableReason, 1, $"the headers of a message for '{message.Exchange}' with routing key '{message.RoutingKey}' cannot be mapped ({error.GetType().Name}: {error.Message}); dropped");
            return false;
        }
    }
}
