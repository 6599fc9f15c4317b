using System.Buffers;
using System.Threading.Channels;
using Federation.Nats.Client;

namespace Federation.Nats.Protocol;

/// <summary>
/// The send queue. Producers format commands into a pending buffer under a lock; one send loop per socket swaps the
/// buffer out and writes everything accumulated since the last write in one <c>WriteAsync</c> + <c>FlushAsync</c>, so
/// concurrent commands coalesce naturally. While closed (no handshaken socket) publishes and pings fail fast,
/// SUB/UNSUB/PONG are skipped (subscriptions are replayed by the handshake), and bytes already queued when a socket
/// dies are discarded and reported, never silently re-sent.
/// </summary>
internal sealed class CommandWriter
{
    private readonly Lock _lock = new();
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Queue<TaskCompletionSource?> _pongWaiters = new();
    private readonly long _maxPendingBytes;
    private ArrayBufferWriter<byte> _pending = new(64 * 1024);
    private ArrayBufferWriter<byte> _spare = new(64 * 1024);
    private TaskCompletionSource? _batchFlush;
    private int _pendingPublishes;
    private int _inFlightPublishes;
    private bool _open;
    private TaskCompletionSource _drained = NewTcs();

    public CommandWriter(long maxPendingBytes) => _maxPendingBytes = maxPendingBytes;

    public bool IsOpen
    {
        get
        {
            lock (_lock)
            {
                return _open;
            }
        }
    }

    /// <summary>Number of socket writes performed (each one a coalesced batch).</summary>
    public long Batches { get; private set; }

    public void Open()
    {
        lock (_lock)
        {
            _open = true;
        }
    }

    /// <summary>Stops accepting commands, drops what was queued and fails every pending PONG waiter. Returns the dropped publish count.</summary>
    public int Close(Exception reason)
    {
        TaskCompletionSource?[] waiters;
        int dropped;
        TaskCompletionSource drained;
        lock (_lock)
        {
            _open = false;
            dropped = _pendingPublishes + _inFlightPublishes;
            _pendingPublishes = 0;
            _inFlightPublishes = 0;
            _pending.ResetWrittenCount();
            waiters = [.. _pongWaiters, _batchFlush];
            _pongWaiters.Clear();
            _batchFlush = null;
            drained = _drained;
            _drained = NewTcs();
        }

        drained.TrySetResult();
        foreach (var waiter in waiters)
        {
            waiter?.TrySetException(reason);
        }

        return dropped;
    }

    /// <summary>Waits while more than the configured bound is queued (back-pressure for publishers).</summary>
    public ValueTask WaitForCapacityAsync(CancellationToken cancellationToken)
    {
        // Checked on every publish: the common case (well under the bound) is read without the lock, which the send
        // loop also takes. A stale read errs by at most the commands racing with it; the bound is a soft one anyway.
        if (Volatile.Read(ref _pending).WrittenCount <= _maxPendingBytes)
        {
            return ValueTask.CompletedTask;
        }

        Task drained;
        lock (_lock)
        {
            if (!_open || _pending.WrittenCount <= _maxPendingBytes)
            {
                return ValueTask.CompletedTask;
            }

            drained = _drained.Task;
        }

        return new ValueTask(drained.WaitAsync(cancellationToken));
    }

    public int Publish(string subject, string? replyTo, NatsHeaders? headers, ReadOnlySequence<byte> payload, ReadOnlySpan<byte> headerBlock = default)
    {
        int size;
        bool wasEmpty;
        lock (_lock)
        {
            if (!_open)
            {
                throw new NatsNotConnectedException();
            }

            wasEmpty = _pending.WrittenCount == 0;
            size = ProtocolWriter.WritePublish(_pending, subject, replyTo, headers, payload, headerBlock);
            _pendingPublishes++;
        }

        SignalIf(wasEmpty);
        return size;
    }

    public void Subscribe(string subject, string? queueGroup, long sid, long? remaining)
    {
        bool wasEmpty;
        lock (_lock)
        {
            if (!_open)
            {
                return;
            }

            wasEmpty = _pending.WrittenCount == 0;
            ProtocolWriter.WriteSub(_pending, subject, queueGroup, sid);
            if (remaining is not null)
            {
                ProtocolWriter.WriteUnsub(_pending, sid, remaining);
            }
        }

        SignalIf(wasEmpty);
    }

    public void Unsubscribe(long sid, long? maxMsgs)
    {
        bool wasEmpty;
        lock (_lock)
        {
            if (!_open)
            {
                return;
            }

            wasEmpty = _pending.WrittenCount == 0;
            ProtocolWriter.WriteUnsub(_pending, sid, maxMsgs);
        }

        SignalIf(wasEmpty);
    }

    public void Pong()
    {
        bool wasEmpty;
        lock (_lock)
        {
            if (!_open)
            {
                return;
            }

            wasEmpty = _pending.WrittenCount == 0;
            ProtocolWriter.WritePong(_pending);
        }

        SignalIf(wasEmpty);
    }

    /// <summary>Queues a PING; <paramref name="waiter"/> (may be null for keep-alive pings) completes on its PONG.</summary>
    public void Ping(TaskCompletionSource? waiter)
    {
        bool wasEmpty;
        lock (_lock)
        {
            if (!_open)
            {
                throw new NatsNotConnectedException();
            }

            wasEmpty = _pending.WrittenCount == 0;
            ProtocolWriter.WritePing(_pending);
            _pongWaiters.Enqueue(waiter);
        }

        SignalIf(wasEmpty);
    }

    /// <summary>
    /// Group commit: completes on the PONG of one PING that the send loop appends at the end of its next batch, shared by
    /// every caller until then. Everything queued before the call is in that batch or an earlier one, so the PONG proves
    /// the server has it, as <see cref="Ping"/> does, at one PING per socket write instead of one per caller.
    /// </summary>
    public Task FlushAtBatchEnd()
    {
        bool wasEmpty;
        Task flushed;
        lock (_lock)
        {
            if (!_open)
            {
                throw new NatsNotConnectedException();
            }

            wasEmpty = _batchFlush is null && _pending.WrittenCount == 0;
            _batchFlush ??= NewTcs();
            flushed = _batchFlush.Task;
        }

        SignalIf(wasEmpty);
        return flushed;
    }

    /// <summary>A PONG arrived: completes the oldest PING's waiter.</summary>
    public void OnPong()
    {
        TaskCompletionSource? waiter = null;
        lock (_lock)
        {
            _pongWaiters.TryDequeue(out waiter);
        }

        waiter?.TrySetResult();
    }

    /// <summary>Writes queued commands to <paramref name="stream"/> until cancelled or the stream fails.</summary>
    public async Task RunSendLoopAsync(Stream stream, CancellationToken cancellationToken)
    {
        Signal(); // anything queued during the handshake goes out first
        while (await _signal.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            _signal.Reader.TryRead(out _);
            ArrayBufferWriter<byte> batch;
            TaskCompletionSource drained;
            lock (_lock)
            {
                if (_batchFlush is { } batchFlush)
                {
                    ProtocolWriter.WritePing(_pending);
                    _pongWaiters.Enqueue(batchFlush);
                    _batchFlush = null;
                }

                if (_pending.WrittenCount == 0)
                {
                    continue;
                }

                batch = _pending;
                _pending = _spare;
                _spare = batch;
                _inFlightPublishes = _pendingPublishes;
                _pendingPublishes = 0;
                drained = _drained;
                _drained = NewTcs();
            }

            try
            {
                await stream.WriteAsync(batch.WrittenMemory, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                Batches++;
                lock (_lock)
                {
                    _inFlightPublishes = 0;
                }
            }
            finally
            {
                lock (_lock)
                {
                    batch.ResetWrittenCount();
                }
            }

            drained.TrySetResult();
        }
    }

    private void Signal() => _signal.Writer.TryWrite(true);

    // Only the command that makes the pending buffer non-empty wakes the send loop: later ones land in the same buffer,
    // which the loop swaps out under the lock after it has consumed that wake-up (so none is ever left behind). Saves
    // the signal channel's lock on every command under load.
    private void SignalIf(bool pendingWasEmpty)
    {
        if (pendingWasEmpty)
        {
            Signal();
        }
    }

    private static TaskCompletionSource NewTcs() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
