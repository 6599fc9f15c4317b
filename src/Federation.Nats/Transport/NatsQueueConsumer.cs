using Federation.Core.Transport;

namespace Federation.Nats.Transport;

/// <summary>
/// Consumes an emulated queue: one delivery at a time, in queue order. Core NATS is at-most-once, so acks and nacks are
/// accepted and ignored (a nack with requeue does not bring the message back), and deliveries are never redelivered.
/// </summary>
internal sealed class NatsQueueConsumer : IMessageConsumer
{
    private readonly NatsBrokerConnection.QueueState _queue;
    private readonly DeliveryHandler _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly MessageDropHandler? _dropped;
    private readonly Task _loop;
    private ulong _tag;

    public NatsQueueConsumer(NatsBrokerConnection.QueueState queue, DeliveryHandler handler, MessageDropHandler? dropped, Task connectionCompletion)
    {
        _queue = queue;
        _handler = handler;
        _dropped = dropped;
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
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
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

    private async Task RunAsync()
    {
        var token = _stop.Token;
        try
        {
            // The token is checked here too: WaitToReadAsync answers at once while the queue holds messages, so a consumer
            // stopped with messages waiting would otherwise go round this loop for ever.
            while (!token.IsCancellationRequested && await _queue.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (!token.IsCancellationRequested && _queue.TryTake(out var message))
                {
                    if (!TryMap(message, out var properties))
                    {
                        continue;
                    }

                    var delivery = new Delivery(
                        ++_tag,
                        false,
                        message.Exchange,
                        message.RoutingKey,
                        properties,
                        message.Body);
                    try
                    {
                        await _handler(delivery, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (token.IsCancellationRequested)
                    {
                        return;
                    }
                }
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
            _completion.TrySetException(ex);
        }
    }

    /// <summary>
    /// Maps a message's headers. One that cannot be mapped is that message's fault: failing the consumer over it would
    /// restart the link, losing what core NATS delivers meanwhile, at every such message; it is dropped and counted instead.
    /// </summary>
    private bool TryMap(NatsBrokerConnection.QueuedMessage message, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MessageProperties? properties)
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
            _dropped?.Invoke(UnreadableReason, 1, $"the headers of a message for '{message.Exchange}' with routing key '{message.RoutingKey}' cannot be mapped ({error.GetType().Name}: {error.Message}); dropped");
            return false;
        }
    }

    /// <summary>The drop reason for a message whose headers cannot be mapped.</summary>
    internal const string UnreadableReason = "unreadable";
}
