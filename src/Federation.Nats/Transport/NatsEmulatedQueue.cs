using Federation.Core.Transport;

namespace Federation.Nats.Transport;

/// <summary>
/// An emulated queue of <see cref="NatsBrokerConnection"/>: at most <see cref="Capacity"/> messages; when it is full, the
/// writer waits for room (push back). The read loop (writer) and the consumer (reader) share no lock on the way of a
/// message: it is a lock-free queue with an interlocked count,
/// and the writer wakes the reader only when the reader has parked on an empty queue (a channel takes its lock on
/// every write, which the two threads contended for on each message).
/// </summary>
/// <remarks>
/// No lost wake-up: a reader publishes <c>_parked</c> (full fence) before it checks the queue once more, and a writer
/// enqueues (full fence) before it reads <c>_parked</c>, so at least one of them sees the other. Whoever turns
/// <c>_parked</c> from 1 to 0 completes the wake-up every parked reader waits on.
/// </remarks>
internal sealed class NatsEmulatedQueue(QueueSpec spec)
{
    /// <summary>How many messages the queue holds before a writer waits for room.</summary>
    internal const int Capacity = 64 * 1024;

    private readonly System.Collections.Concurrent.ConcurrentQueue<NatsQueuedMessage> _items = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource? _wake;
    private TaskCompletionSource? _room;
    private int _parked;
    private int _full;
    private int _count;
    private bool _closed;
    private Exception? _closeError;

    // The queue's only consumer, whose messages a writer hands over on its own thread (see OfferAsync); null while the
    // queue has no consumer or several. _consumers counts them, under _gate.
    private NatsQueueConsumer? _receiver;
    private int _consumers;

    // 1 while someone hands the receiver its queued messages: a writer, or the receiver's own loop. Only the holder
    // takes messages, so the receiver sees them one at a time and in queue order. _freed completes when it is given
    // back, for whoever found it taken.
    private int _handing;
    private TaskCompletionSource? _freed;

    public QueueSpec Spec { get; } = spec;

    /// <summary>
    /// A consumer starts: the queue's only one becomes its receiver, whose messages writers hand over on their own
    /// thread. True if <paramref name="consumer"/> is the receiver: its loop must then hold the hand-off
    /// (<see cref="TryBeginHandOff"/>) while it takes messages.
    /// </summary>
    public bool Attach(NatsQueueConsumer consumer)
    {
        lock (_gate)
        {
            var only = ++_consumers == 1;
            Volatile.Write(ref _receiver, only ? consumer : null);
            return only;
        }
    }

    /// <summary>A consumer stops: writers no longer hand it messages, and one that waits for the hand-off stops waiting.</summary>
    public void Detach(NatsQueueConsumer consumer)
    {
        lock (_gate)
        {
            _consumers--;
            if (ReferenceEquals(_receiver, consumer))
            {
                Volatile.Write(ref _receiver, null);
            }
        }

        Interlocked.Exchange(ref _freed, null)?.TrySetResult();
    }

    /// <summary>Takes the hand-off; false while someone else holds it.</summary>
    public bool TryBeginHandOff() => Interlocked.CompareExchange(ref _handing, 1, 0) == 0;

    /// <summary>
    /// Completes when the hand-off is next given back. For one who found it taken: ask for this, then try
    /// <see cref="TryBeginHandOff"/> once more before waiting, so that no give-back is missed.
    /// </summary>
    public Task HandOffFreed()
    {
        var freed = Volatile.Read(ref _freed);
        if (freed is null)
        {
            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            freed = Interlocked.CompareExchange(ref _freed, fresh, null) ?? fresh;
        }

        return freed.Task;
    }

    /// <summary>Gives the hand-off back, and wakes whoever found it taken.</summary>
    public void EndHandOff()
    {
        Interlocked.Exchange(ref _handing, 0); // before _freed is read: a waiter publishes _freed before it tries
        if (Volatile.Read(ref _freed) is not null)
        {
            Interlocked.Exchange(ref _freed, null)?.TrySetResult();
        }
    }

    /// <summary>Waits until a message can be taken; false once the queue is closed and empty (throws if it was closed with an error).</summary>
    /// <remarks>A cancelled token wins, as on a channel, also while messages wait: a stopped reader must not keep reading.</remarks>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<bool>(cancellationToken)
        : _items.IsEmpty ? WaitSlowAsync(cancellationToken) : ValueTask.FromResult(true);

    /// <summary>Takes the oldest message, if any.</summary>
    public bool TryTake([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out NatsQueuedMessage message)
    {
        if (!_items.TryDequeue(out message))
        {
            return false;
        }

        if (Interlocked.Decrement(ref _count) < Capacity / 2 && Volatile.Read(ref _full) != 0)
        {
            SignalRoom();
        }

        return true;
    }

    /// <summary>
    /// Adds a message; when the queue is full, completes once there is room again (the caller's subscription stops
    /// reading meanwhile, which pushes back to the server). A closed queue takes nothing: its connection or the queue
    /// itself is gone, and so is everything in it.
    /// </summary>
    /// <remarks>
    /// A queue with one consumer does not hand its messages to that consumer's thread: the writer (a subscription's
    /// read loop) queues the message and then hands the consumer what is queued itself, on its own thread, and the
    /// returned task is pending while the consumer's handler is. Profiling a saturated link showed the hand-off to the
    /// consumer's thread to be one of its largest costs (waking it, a thread-pool work item, the cache misses of every
    /// message that changes threads). A handler that waits (the link bounds what it has in flight) then holds the read
    /// loop, as a full queue does, which pushes back to the server. While the consumer's loop hands it what was
    /// queued before it started, the writer waits for it, which pushes back the same way.
    /// </remarks>
    public ValueTask OfferAsync(NatsQueuedMessage message, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _receiver) is { } receiver && !Volatile.Read(ref _closed))
        {
            Interlocked.Increment(ref _count); // bounded without a check: each writer waits until its message is taken
            _items.Enqueue(message);
            if (TryBeginHandOff())
            {
                return HandOver(receiver);
            }

            // Taken: ask to be woken, then try once more, so that a give-back between the two is not missed.
            var freed = HandOffFreed();
            return TryBeginHandOff() ? HandOver(receiver) : HandOverWhenFreedAsync(freed, cancellationToken);
        }

        return TryOffer(message) ? ValueTask.CompletedTask : OfferSlowAsync(message, cancellationToken);
    }

    /// <summary>Holding the hand-off: hands <paramref name="receiver"/> every queued message, then gives the hand-off back.</summary>
    private ValueTask HandOver(NatsQueueConsumer receiver)
    {
        while (receiver.TryBeginInline())
        {
            if (!TryTake(out var message))
            {
                receiver.EndInline();
                break;
            }

            var delivered = receiver.DeliverInline(message);
            if (!delivered.IsCompletedSuccessfully)
            {
                return HandOverAfterAsync(delivered, receiver);
            }

            delivered.GetAwaiter().GetResult();
        }

        EndHandOff();
        return ValueTask.CompletedTask;
    }

    private async ValueTask HandOverAfterAsync(ValueTask delivered, NatsQueueConsumer receiver)
    {
        await delivered.ConfigureAwait(false); // never throws: the consumer keeps its handler's failures
        await HandOver(receiver).ConfigureAwait(false);
    }

    /// <summary>
    /// The hand-off was taken when this writer queued its message: whoever holds it hands over what is queued, this
    /// message too unless it came too late; the writer waits until it is given back and looks again.
    /// </summary>
    private async ValueTask HandOverWhenFreedAsync(Task freed, CancellationToken cancellationToken)
    {
        while (true)
        {
            await freed.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (_items.IsEmpty || Volatile.Read(ref _receiver) is not { } receiver || Volatile.Read(ref _closed))
            {
                return; // handed over; or no receiver any more, and the message waits in the queue for a consumer
            }

            freed = HandOffFreed();
            if (TryBeginHandOff())
            {
                await HandOver(receiver).ConfigureAwait(false);
                return;
            }
        }
    }

    private bool TryOffer(NatsQueuedMessage message)
    {
        if (Volatile.Read(ref _closed))
        {
            return true; // nothing to wait for
        }

        if (Interlocked.Increment(ref _count) > Capacity)
        {
            Interlocked.Decrement(ref _count);
            return false;
        }

        _items.Enqueue(message);
        Interlocked.MemoryBarrier(); // the enqueue is visible before _parked is read (see the remarks)
        if (Volatile.Read(ref _parked) != 0)
        {
            Wake();
        }

        return true;
    }

    private async ValueTask OfferSlowAsync(NatsQueuedMessage message, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task room;
            lock (_gate)
            {
                room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            Volatile.Write(ref _full, 1);
            if (TryOffer(message))
            {
                return;
            }

            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void SignalRoom()
    {
        TaskCompletionSource? room;
        lock (_gate)
        {
            Volatile.Write(ref _full, 0);
            room = _room;
            _room = null;
        }

        room?.TrySetResult();
    }

    public void Delete() => Close(new ResourceNotFoundException($"Queue '{Spec.Name}' was deleted."));

    /// <summary>Whether the queue is closed: nothing new comes in, and what is left is all a reader will ever get.</summary>
    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>Messages waiting in the queue (for tests and diagnostics; a snapshot).</summary>
    public int Count => Math.Max(0, Volatile.Read(ref _count));

    /// <summary>
    /// Takes every message still waiting and returns how many there were: for whoever must count them as lost once no
    /// reader will take them. Each message is taken once, by this or by a reader, never both.
    /// </summary>
    public long TakeAllRemaining()
    {
        long taken = 0;
        while (TryTake(out _))
        {
            taken++;
        }

        return taken;
    }

    /// <summary>Closes the queue: readers take what is left, then get false (or <paramref name="error"/>).</summary>
    public void Close(Exception? error)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closeError = error;
            Volatile.Write(ref _closed, true);
            wake = _wake;
            _wake = null;
        }

        Volatile.Write(ref _parked, 0);
        wake?.TrySetResult();
        SignalRoom();
    }

    private async ValueTask<bool> WaitSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!_items.IsEmpty)
            {
                return true;
            }

            TaskCompletionSource wake;
            lock (_gate)
            {
                if (_closed)
                {
                    if (!_items.IsEmpty)
                    {
                        return true;
                    }

                    return _closeError is null ? false : throw _closeError;
                }

                wake = _wake ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            Interlocked.Exchange(ref _parked, 1);
            if (!_items.IsEmpty)
            {
                Wake(); // a message arrived between the check and parking: do not wait for a writer that saw no reader
            }

            await wake.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _parked, 0) == 0)
        {
            return; // someone else woke the readers
        }

        TaskCompletionSource? wake;
        lock (_gate)
        {
            wake = _wake;
            _wake = null;
        }

        wake?.TrySetResult();
    }
}
