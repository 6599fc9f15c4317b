using System.Buffers;
using System.Text;
using System.Threading.Channels;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using NATS.Client.Core;

namespace Federation.Nats.Messaging;

/// <summary>
/// One <see cref="ISubjectSubscription"/>. Each message is handed to the handler right on the client's read loop (through a
/// <see cref="NatsSubjectReceiver"/>) as long as the handler keeps up: a call that completes synchronously (the usual case
/// for a broker's relay, which only writes to a connection's buffer) costs no thread hop and no queue. A call that has to
/// wait does not hold the read loop: the subscription switches to a bounded queue of its own, drained in order by one loop
/// on the thread pool, and goes back to inline calls once that queue is empty. The handler is called for one message at a
/// time, in order, either way.
/// </summary>
/// <remarks>
/// <para>
/// The queue holds at most the client's <see cref="NatsOpts.SubPendingChannelCapacity"/> messages, as the client's channel
/// did. When it is full the newest message is dropped, counted and logged by the connection (or, with
/// <see cref="NatsOpts.SubPendingChannelFullMode"/> set to <see cref="BoundedChannelFullMode.Wait"/>, the read loop waits
/// for room, which pushes back through TCP to the server).
/// </para>
/// <para>
/// The cost of inline calls: the synchronous part of a handler (up to its first pending await) runs on the read loop, so a
/// handler that blocks a thread (<c>.Result</c>, <c>Wait()</c>, a long computation) stalls every subscription of its
/// connection, and one that blocks waiting for a message of the same connection never returns. Handlers of the subject SPI
/// are asynchronous: awaiting a flush or a reply on the same connection is fine, since the pending call moves to the queue.
/// </para>
/// </remarks>
internal sealed class NatsSubjectSubscription : ISubjectSubscription
{
    // The subscription whose handler is running on this logical call path: disposing it from inside its own handler must not
    // wait for that very handler call to return.
    private static readonly AsyncLocal<NatsSubjectSubscription?> RunningHandler = new();

    /// <summary>The drop reason of a message whose header block could not be parsed.</summary>
    internal const string UnreadableReason = "unreadable";

    /// <summary>The drop reason of a message that found the subscription's queue full.</summary>
    internal const string SlowConsumerReason = "slow_consumer";

    /// <summary>The status a NATS server sends to the reply subject of a message that reached no subscriber.</summary>
    private const int NoRespondersStatus = 503;

    /// <summary>The drop reason of a message still queued when the subscription closed (its owner stops or lost the connection for good).</summary>
    internal const string StoppedReason = "stopped";

    private readonly NatsSubjectConnection _owner;
    private readonly NatsSubjectReceiver _nats;
    private readonly SubjectMessageHandler _handler;
    private readonly MessageDropHandler? _dropped;
    private readonly Encoding _headerEncoding;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationToken _token;
    private readonly Lock _gate = new();
    private readonly Queue<SubjectMessage> _pending = new();
    private readonly int _capacity;
    private readonly bool _waitWhenFull;

    // Guarded by _gate: a handler call is running (inline or in the drain loop); who waits for it to end; who waits for room.
    private bool _busy;
    private TaskCompletionSource? _idle;
    private TaskCompletionSource? _room;
    private int _disposed;
    private long _handlerErrors;

    public NatsSubjectSubscription(NatsSubjectConnection owner, NatsConnection nats, string subject, string? queueGroup, SubjectMessageHandler handler, MessageDropHandler? dropped)
    {
        _owner = owner;
        _handler = handler;
        _dropped = dropped;
        _headerEncoding = nats.Opts.HeaderEncoding;
        _capacity = Math.Max(1, nats.Opts.SubPendingChannelCapacity);
        _waitWhenFull = nats.Opts.SubPendingChannelFullMode == BoundedChannelFullMode.Wait;
        _token = _stopping.Token;
        _nats = new NatsSubjectReceiver(nats, subject, queueGroup, this);
    }

    public string Subject => _nats.Subject;

    public string? QueueGroup => _nats.QueueGroup;

    /// <summary>The client's side of this subscription, to register with the connection.</summary>
    internal NatsSubBase Receiver => _nats;

    /// <summary>Handler calls that threw.</summary>
    public long HandlerErrors => Interlocked.Read(ref _handlerErrors);

    /// <summary>How many messages wait for the handler now.</summary>
    internal int Queued
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Signals the handler's token without unsubscribing: the connection is closed for good.</summary>
    public void Abort()
    {
        Volatile.Write(ref _disposed, 1);
        CancelQuietly();
        DropPending();
    }

    public async ValueTask DrainAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) == 0 && !ReferenceEquals(RunningHandler.Value, this))
        {
            // UNSUB: the server gives new messages to the group's other members; what is queued here is still handled.
            await UnsubscribeForDrainAsync(cancellationToken).ConfigureAwait(false);
            Task? idle;
            lock (_gate)
            {
                idle = _busy ? (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task : null;
            }

            if (idle is not null)
            {
                try
                {
                    await idle.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // Out of time: the dispose drops the rest, counted as stopped.
                }
            }
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _owner.Forget(this);

            // After a drain too: the drain only unsubscribed the client's side, and this releases it (both are idempotent).
            await _nats.DisposeAsync().ConfigureAwait(false);
        }

        CancelQuietly();
        var idle = DropPending();
        if (idle is not null && !ReferenceEquals(RunningHandler.Value, this))
        {
            await idle.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends UNSUB and keeps taking messages until a PING/PONG round trip shows that the server has read it (the client's
    /// drain). A plain unsubscribe forgets the subscription at once, so the messages the server sent before it read the
    /// UNSUB (on the wire, or in its buffer for this client) reached a client that dropped them unseen and uncounted.
    /// </summary>
    private async ValueTask UnsubscribeForDrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            // At most NatsOpts.DrainPingTimeout; the token can only shorten it. Either way the client forgets the subscription.
            await _nats.DrainAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Out of time: the dispose drops what is still queued, counted as stopped.
        }
#pragma warning disable CA1031 // a connection that is closing or lost: nothing more can arrive, and the dispose closes the rest
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Takes one message on the client's read loop. Never throws: an exception would end the client's subscription.</summary>
    internal ValueTask Receive(string subject, string? replyTo, ReadOnlySequence<byte>? headersBuffer, ReadOnlySequence<byte> payloadBuffer)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return ValueTask.CompletedTask;
        }

        SubjectMessage message;
        try
        {
            if (headersBuffer is { } status && payloadBuffer.IsEmpty && JetStream.JetStreamPubAck.StatusOf(status) == NoRespondersStatus)
            {
                // The server's "no responders": a request published with this reply subject reached no subscriber.
                message = new SubjectMessage(subject, Array.Empty<byte>()) { IsNoResponders = true };
            }
            else
            {
                var headers = headersBuffer is { } block ? NatsSubjectHeaders.Parse(block, _headerEncoding) : null;
                message = new SubjectMessage(subject, payloadBuffer.IsEmpty ? Array.Empty<byte>() : payloadBuffer.ToArray(), headers, replyTo);
            }
        }
        catch (FormatException)
        {
            Dropped(subject, "unreadable header block", UnreadableReason); // never silently
            return ValueTask.CompletedTask;
        }

        bool runHere;
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return ValueTask.CompletedTask;
            }

            runHere = !_busy;
            if (runHere)
            {
                _busy = true;
            }
            else if (_pending.Count < _capacity)
            {
                _pending.Enqueue(message);
                return ValueTask.CompletedTask;
            }
            else if (_waitWhenFull)
            {
                return WaitForRoomAsync(message);
            }
        }

        if (!runHere)
        {
            // The queue is full: the newest message goes, never silently.
            Dropped(subject, "subscription queue full", SlowConsumerReason);
            return ValueTask.CompletedTask;
        }

        RunInline(message);
        return ValueTask.CompletedTask;
    }

    /// <summary>Counts and logs a dropped message on the connection, and tells the subscriber, which may count it too.</summary>
    private void Dropped(string subject, string description, string reason)
    {
        _owner.MessageDropped(subject, description);
        _dropped?.Invoke(reason, 1, $"{description} on '{subject}'");
    }

    private void RunInline(SubjectMessage message)
    {
        var call = Invoke(message);
        if (!call.IsCompleted)
        {
            // The handler waits for something: let the read loop go on, and let the queue take what comes meanwhile.
            _ = DrainAsync(call);
            return;
        }

        Observe(call);
        if (!TryGoIdle(out _))
        {
            _ = DrainAsync(ValueTask.CompletedTask);
        }
    }

    /// <summary>Finishes the pending call, then calls the handler for every queued message, in order, until the queue is empty.</summary>
    private async Task DrainAsync(ValueTask pending)
    {
        RunningHandler.Value = this;
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_token.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // the SPI promises that a failing handler never ends the subscription
        catch (Exception ex)
#pragma warning restore CA1031
        {
            HandlerFailed(ex);
        }

        while (!TryGoIdle(out var next))
        {
            try
            {
                await _handler(next, _token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_token.IsCancellationRequested)
            {
            }
#pragma warning disable CA1031 // the SPI promises that a failing handler never ends the subscription
            catch (Exception ex)
#pragma warning restore CA1031
            {
                HandlerFailed(ex);
            }
        }
    }

    /// <summary>
    /// Takes the next queued message; when there is none (or the subscription is disposed) ends the busy state, wakes whoever
    /// waits for it, and returns true.
    /// </summary>
    private bool TryGoIdle([System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out SubjectMessage? next)
    {
        TaskCompletionSource? idle = null;
        TaskCompletionSource? room = null;
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) == 0 && _pending.TryDequeue(out var item))
            {
                next = item;
                if (_room is not null && _pending.Count < _capacity)
                {
                    room = _room;
                    _room = null;
                }
            }
            else
            {
                next = null;
                _busy = false;
                idle = _idle;
                _idle = null;
                room = _room;
                _room = null;
            }
        }

        room?.TrySetResult();
        idle?.TrySetResult();
        return next is null;
    }

    private ValueTask Invoke(SubjectMessage message)
    {
        var outer = RunningHandler.Value;
        RunningHandler.Value = this;
        try
        {
            return _handler(message, _token);
        }
#pragma warning disable CA1031 // a synchronous throw is handled like an asynchronous one
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException(ex);
        }
        finally
        {
            RunningHandler.Value = outer;
        }
    }

    private void Observe(ValueTask completed)
    {
        try
        {
            completed.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_token.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // the SPI promises that a failing handler never ends the subscription
        catch (Exception ex)
#pragma warning restore CA1031
        {
            HandlerFailed(ex);
        }
    }

    private void HandlerFailed(Exception exception)
    {
        Interlocked.Increment(ref _handlerErrors);
        _owner.HandlerFailed(this, exception);
    }

    /// <summary>With <see cref="BoundedChannelFullMode.Wait"/>: holds the read loop until the queue has room (push back).</summary>
    private async ValueTask WaitForRoomAsync(SubjectMessage message)
    {
        while (true)
        {
            Task room;
            lock (_gate)
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    return;
                }

                if (!_busy)
                {
                    _busy = true;
                    break;
                }

                if (_pending.Count < _capacity)
                {
                    _pending.Enqueue(message);
                    return;
                }

                room = (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            await room.ConfigureAwait(false);
        }

        RunInline(message);
    }

    /// <summary>
    /// Drops what is queued (not handed out after dispose), each counted and told as <see cref="StoppedReason"/>: lost with
    /// the subscription (at-most-once), never silently. Returns what ends with the running call, if one runs.
    /// </summary>
    private Task? DropPending()
    {
        TaskCompletionSource? room;
        Task? idle = null;
        SubjectMessage[] dropped;
        lock (_gate)
        {
            dropped = _pending.Count == 0 ? [] : [.. _pending];
            _pending.Clear();
            room = _room;
            _room = null;
            if (_busy)
            {
                idle = (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }

        room?.TrySetResult();
        foreach (var message in dropped)
        {
            Dropped(message.Subject, "subscription closed with the message queued", StoppedReason);
        }

        return idle;
    }

    private void CancelQuietly()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // already released
        }
    }
}
