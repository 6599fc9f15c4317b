using System.Threading.Channels;

namespace Federation.Nats.Client;

/// <summary>
/// A subscription: read it with <c>await foreach</c> (it is an <see cref="IAsyncEnumerable{T}"/>), or create it with a
/// handler. Messages wait in a bounded buffer of <see cref="NatsClientOptions.SubscriptionBufferCapacity"/>; when the
/// reader falls behind, <see cref="NatsClientOptions.SlowConsumerPolicy"/> drops messages and counts them in
/// <see cref="DroppedMessages"/>. The enumeration ends when the subscription is unsubscribed, auto-unsubscribed after
/// its maximum, drained or the connection closes.
/// </summary>
public sealed class NatsSubscription : IAsyncEnumerable<NatsMsg>, IAsyncDisposable
{
    private readonly NatsConnection _connection;
    private readonly Channel<NatsMsg> _channel;
    private readonly Action<NatsMsg>? _inlineHandler;
    private long _dropped;
    private long _delivered;
    private long _handlerErrors;

    internal NatsSubscription(NatsConnection connection, long sid, string subject, string? queueGroup, long? maxMessages, NatsClientOptions options, bool isInbox, Action<NatsMsg>? inlineHandler = null)
    {
        _inlineHandler = inlineHandler;
        _connection = connection;
        Sid = sid;
        Subject = subject;
        QueueGroup = queueGroup;
        MaxMessages = maxMessages;
        IsInbox = isInbox;
        _channel = Channel.CreateBounded<NatsMsg>(
            new BoundedChannelOptions(options.SubscriptionBufferCapacity)
            {
                FullMode = options.SlowConsumerPolicy == SlowConsumerPolicy.DropOldest ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.DropWrite,
                SingleWriter = true,
                AllowSynchronousContinuations = false,
            },
            OnDropped);
    }

    /// <summary>The subscribed subject (may contain wildcards).</summary>
    public string Subject { get; }

    /// <summary>The queue group, or null.</summary>
    public string? QueueGroup { get; }

    /// <summary>The auto-unsubscribe limit, or null.</summary>
    public long? MaxMessages { get; }

    /// <summary>Messages dropped because the buffer was full.</summary>
    public long DroppedMessages => Interlocked.Read(ref _dropped);

    /// <summary>Messages received from the server for this subscription (delivered or dropped).</summary>
    public long ReceivedMessages => Interlocked.Read(ref _delivered);

    /// <summary>Exceptions thrown by the handler (handler subscriptions only); each is swallowed after counting.</summary>
    public long HandlerErrors => Interlocked.Read(ref _handlerErrors);

    /// <summary>Completes when the subscription has ended and every buffered message has been read.</summary>
    public Task Completion => HandlerTask ?? _channel.Reader.Completion;

    internal long Sid { get; }

    internal bool IsInbox { get; }

    internal Task? HandlerTask { get; set; }

    /// <summary>Remaining messages before auto-unsubscribe, or null without a limit.</summary>
    internal long? Remaining => MaxMessages is { } max ? Math.Max(0, max - Interlocked.Read(ref _delivered)) : null;

    /// <summary>Messages waiting in the buffer.</summary>
    public int Pending => _channel.Reader.Count;

    /// <inheritdoc />
    public IAsyncEnumerator<NatsMsg> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        _channel.Reader.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>Reads the next message; throws <see cref="ChannelClosedException"/> once the subscription has ended.</summary>
    public ValueTask<NatsMsg> ReadAsync(CancellationToken cancellationToken = default) => _channel.Reader.ReadAsync(cancellationToken);

    /// <summary>Tries to read a buffered message without waiting.</summary>
    public bool TryRead(out NatsMsg? message) => _channel.Reader.TryRead(out message);

    /// <summary>Unsubscribes; buffered messages can still be read.</summary>
    public ValueTask UnsubscribeAsync(CancellationToken cancellationToken = default) => _connection.UnsubscribeAsync(this, cancellationToken);

    /// <summary>Same as <see cref="UnsubscribeAsync"/>.</summary>
    public ValueTask DisposeAsync() => _connection.UnsubscribeAsync(this, CancellationToken.None);

    /// <summary>Hands a message to the buffer; returns true when the auto-unsubscribe limit has been reached.</summary>
    internal bool Deliver(NatsMsg message)
    {
        var count = Interlocked.Increment(ref _delivered);
        if (MaxMessages is { } max && count > max)
        {
            return true; // late arrival after the limit: ignore
        }

        if (_inlineHandler is { } inline)
        {
            DeliverInline(inline, message);
        }
        else
        {
            _channel.Writer.TryWrite(message);
        }

        return MaxMessages is { } limit && count >= limit;
    }

    private void DeliverInline(Action<NatsMsg> handler, NatsMsg message)
    {
        try
        {
            handler(message);
        }
#pragma warning disable CA1031 // a faulty handler must not end the read loop
        catch (Exception)
#pragma warning restore CA1031
        {
            CountHandlerError();
        }
    }

    internal void Complete() => _channel.Writer.TryComplete();

    internal void CountHandlerError() => Interlocked.Increment(ref _handlerErrors);

    internal async Task RunHandlerAsync(Func<NatsMsg, CancellationToken, ValueTask> handler, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await foreach (var message in _channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await handler(message, cancellationToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // a faulty handler must not end the subscription
                catch (Exception)
#pragma warning restore CA1031
                {
                    CountHandlerError();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void OnDropped(NatsMsg message)
    {
        Interlocked.Increment(ref _dropped);
        _connection.CountDropped();
    }
}
