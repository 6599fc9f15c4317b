using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Transport;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Federation.Nats.Messaging;

/// <summary>
/// One <see cref="ISubjectConnection"/> over one <see cref="NatsConnection"/>. Unlike the exchange adapter, it lets the client
/// reconnect (and replay every subscription) on its own: a collective broker is stateless, so a reconnect loses nothing but
/// the messages in flight, which core NATS never promised anyway. <see cref="Completion"/> faults only when the client gives
/// up for good (out of reconnect attempts, or the credentials were refused twice in a row), or when the server
/// refuses one of its subscriptions (a permissions violation: the subscription would receive nothing).
/// </summary>
internal sealed class NatsSubjectConnection : ISubjectConnection
{
    // A disposing connection gives what it published last this long to reach the server before the socket closes.
    private static readonly TimeSpan FlushOnDispose = TimeSpan.FromSeconds(2);

    private readonly NatsConnection _nats;
    private readonly string _connectionName;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly HashSet<NatsSubjectSubscription> _subscriptions = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _maxReconnectAttempts;
    private int _disposing;
    private int _failedReconnects;
    private int _disconnected;
    private long _handlerErrors;
    private long _droppedMessages;

    public NatsSubjectConnection(NatsConnection nats, string displayUri, string connectionName, int maxReconnectAttempts, ILogger logger)
    {
        _nats = nats;
        DisplayUri = displayUri;
        _connectionName = connectionName;
        _maxReconnectAttempts = maxReconnectAttempts;
        _logger = logger;
        _server = new Uri(nats.Opts.Url).GetLeftPart(UriPartial.Authority);
        nats.ConnectionDisconnected += OnDisconnectedAsync;
        nats.ConnectionOpened += OnOpenedAsync;
        nats.ReconnectFailed += OnReconnectFailedAsync;
        nats.ServerError += OnServerErrorAsync;
        nats.MessageDropped += OnMessageDroppedAsync;
    }

    private readonly string _server;

    public string DisplayUri { get; }

    /// <summary>The server this connection talks to (its seed URL without credentials), while it is connected.</summary>
    public string? ConnectedServer => _nats.ConnectionState == NatsConnectionState.Open ? _server : null;

    public Task Completion => _completion.Task;

    /// <summary>Handler calls that threw, over every subscription of this connection.</summary>
    internal long HandlerErrors => Interlocked.Read(ref _handlerErrors);


    /// <summary>Messages dropped because a subscription's queue was full (or a header block was unreadable).</summary>
    internal long DroppedMessages => Interlocked.Read(ref _droppedMessages);

    /// <summary>The underlying client, for tests.</summary>
    internal NatsConnection Client => _nats;

    public ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken) =>
        SubscribeAsync(subject, queueGroup, handler, dropped: null, cancellationToken);

    public async ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, MessageDropHandler? dropped, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        NatsSubjects.ValidateSubscribe(subject);
        if (queueGroup is not null)
        {
            NatsSubjects.ValidateQueueGroup(queueGroup);
        }

        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        ThrowIfClosedForGood();
        var subscription = new NatsSubjectSubscription(this, _nats, subject, queueGroup, handler, dropped);
        bool accepted;
        lock (_lock)
        {
            accepted = Volatile.Read(ref _disposing) == 0;
            if (accepted)
            {
                _subscriptions.Add(subscription);
            }
        }

        ObjectDisposedException.ThrowIf(!accepted, this);
        try
        {
            await _nats.AddSubAsync(subscription.Receiver, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException)
        {
            Forget(subscription);
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw ex is NatsException nats ? Translate(nats, subject, _nats.Opts) : ex;
        }

        // The SPI promises an active subscription once this returns, so a message published right afterwards from another
        // connection is delivered: wait for the server to have the SUB (one PING/PONG). While disconnected the SUB goes out
        // with the next handshake instead.
        if (_nats.ConnectionState == NatsConnectionState.Open)
        {
            try
            {
                await _nats.PingAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NatsException)
            {
                // replayed by the reconnect handshake
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            catch (OperationCanceledException)
            {
                // The client cancels the PINGs of a socket that died: the SUB is replayed by the reconnect handshake.
            }
        }

        return subscription;
    }

    public ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);

        // The official client checks little (no wildcards check on publish) and would send "a.*" as a literal subject: the
        // SPI promises an ArgumentException naming the subject, before anything reaches the wire.
        NatsSubjects.ValidatePublish(message.Subject);
        if (message.ReplyTo is not null)
        {
            NatsSubjects.ValidatePublish(message.ReplyTo, nameof(message.ReplyTo));
        }

        // The client checks header fields only while it writes them, and reports a bad one as a NatsException, which reads
        // as a broken connection: the SPI names the field instead, before anything is sent.
        SubjectHeaderRules.Validate(message);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();

        // Once closed for good the client is disposed and would throw ObjectDisposedException: say why instead.
        ThrowIfClosedForGood();

        // While the client reconnects, its PublishAsync would wait for the connection (for ever: no publish timeout when
        // disconnected) and hold on to the caller's body: fail fast instead, as core NATS would have lost it anyway.
        if (_nats.ConnectionState != NatsConnectionState.Open)
        {
            throw new ConnectionLostException($"The NATS connection {DisplayUri} is reconnecting; the message for subject '{message.Subject}' was not sent.");
        }

        // One header object per thread, reused: when the client's publish completes synchronously it has serialised the
        // headers into its write buffer (as the exchange adapter's NatsPublisher relies on too). A publish that has to wait
        // keeps its object, and the next publish on this thread takes a new one.
        NatsHeaders? headers = null;
        if (message.Headers is { Count: > 0 } fields)
        {
            headers = t_spareHeaders ?? [];
            t_spareHeaders = null;
            NatsSubjectHeaders.Write(fields, headers);
        }

        ValueTask publish;
        try
        {
            publish = _nats.PublishAsync(message.Subject, message.Body, headers, message.ReplyTo, RawBody, opts: null, cancellationToken);
        }
        catch (NatsException ex)
        {
            throw Translate(ex, message.Subject, _nats.Opts);
        }

        if (headers is not null && publish.IsCompletedSuccessfully)
        {
            t_spareHeaders = headers;
        }

        return publish.IsCompletedSuccessfully ? ValueTask.CompletedTask : AwaitPublishAsync(publish, message.Subject);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        ThrowIfClosedForGood();
        try
        {
            await _nats.PingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            throw Translate(ex, subject: null, _nats.Opts);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The client cancels the PINGs of a socket that died: a lost connection, not a cancellation the caller asked for.
            throw new ConnectionLostException($"The NATS connection {DisplayUri} was lost before the server answered the flush.", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposing, 1) != 0)
        {
            await _disposed.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            NatsSubjectSubscription[] subscriptions;
            lock (_lock)
            {
                subscriptions = [.. _subscriptions];
            }

            foreach (var subscription in subscriptions)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
            }

            // Closed for good, the client is already being disposed: nothing to flush, and its PING would be cancelled.
            if (_nats.ConnectionState == NatsConnectionState.Open && !_completion.Task.IsCompleted)
            {
                try
                {
                    await _nats.PingAsync(CancellationToken.None).AsTask().WaitAsync(FlushOnDispose).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NatsException or TimeoutException or OperationCanceledException or ObjectDisposedException)
                {
                    // best effort: the connection is going away either way
                }
            }

            Unhook();
            await _nats.DisposeAsync().ConfigureAwait(false);
            _completion.TrySetResult();
        }
        finally
        {
            _disposed.TrySetResult();
        }
    }

    internal void Forget(NatsSubjectSubscription subscription)
    {
        lock (_lock)
        {
            _subscriptions.Remove(subscription);
        }
    }

    internal void HandlerFailed(NatsSubjectSubscription subscription, Exception exception)
    {
        Interlocked.Increment(ref _handlerErrors);
        NatsSubjectLog.HandlerFailed(_logger, exception, DisplayUri, _connectionName, subscription.Subject);
    }

    private async ValueTask AwaitPublishAsync(ValueTask publish, string subject)
    {
        try
        {
            await publish.ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            throw Translate(ex, subject, _nats.Opts);
        }
    }

    /// <summary>The transport's exception for a failure of the client, without the credentials of <paramref name="auth"/>.</summary>
    internal static TransportException Translate(NatsException exception, string? subject, NatsOpts? auth) => exception switch
    {
        NatsPayloadTooLargeException tooLarge => new PublishNackedException($"The message for '{subject}' was refused: {NatsErrorText.Message(tooLarge, auth)}", NatsErrorText.SafeInner(exception, auth)),
        NatsServerException { IsAuthError: true } => new AuthenticationFailedException(NatsErrorText.Message(exception, auth), NatsErrorText.SafeInner(exception, auth)),
        _ => new ConnectionLostException($"The NATS connection is not usable{(subject is null ? string.Empty : $" (subject '{subject}')")}: {NatsErrorText.Message(exception, auth)}", NatsErrorText.SafeInner(exception, auth)),
    };

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposing) != 0, this);

    private void ThrowIfClosedForGood()
    {
        if (_completion.Task.IsFaulted)
        {
            throw new ConnectionLostException($"The NATS connection {DisplayUri} is closed for good.", _completion.Task.Exception!.InnerException!);
        }
    }

    [ThreadStatic]
    private static NatsHeaders? t_spareHeaders;

    private static readonly NatsRawSerializer<ReadOnlyMemory<byte>> RawBody = NatsRawSerializer<ReadOnlyMemory<byte>>.Default;

    private void Unhook()
    {
        _nats.ConnectionDisconnected -= OnDisconnectedAsync;
        _nats.ConnectionOpened -= OnOpenedAsync;
        _nats.ReconnectFailed -= OnReconnectFailedAsync;
        _nats.ServerError -= OnServerErrorAsync;
        _nats.MessageDropped -= OnMessageDroppedAsync;
    }

    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        Volatile.Write(ref _disconnected, 1);
        NatsSubjectLog.Disconnected(_logger, null, DisplayUri, _connectionName, _server);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnOpenedAsync(object? sender, NatsEventArgs args)
    {
        Interlocked.Exchange(ref _failedReconnects, 0);

        // The client queues its events and raises them on a task of its own, so the "opened" of the initial connect can
        // reach these handlers after they were attached: only an opening after a disconnect is a reconnect.
        if (Interlocked.Exchange(ref _disconnected, 0) != 0)
        {
            NatsSubjectLog.Reconnected(_logger, DisplayUri, _connectionName, _server);
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask OnServerErrorAsync(object? sender, NatsServerErrorEventArgs args)
    {
        if (NatsSubscriptionRefusal.TryParse(args, out var subject))
        {
            // The client keeps a refused subscription as if active: nothing would ever arrive on it, while this connection
            // looked healthy. Closed for good instead, so its owner sees the reason and opens a new one on its schedule.
            if (Volatile.Read(ref _disposing) == 0)
            {
                var reason = NatsSubscriptionRefusal.Describe(subject, DisplayUri);
                NatsSubjectLog.SubscriptionRefused(_logger, DisplayUri, _connectionName, subject);
                CloseForGood(new ConnectionLostException($"{reason} ({_connectionName}); the connection is closed."));
            }

            return ValueTask.CompletedTask;
        }

        var error = NatsErrorText.Scrub(args.Error, _nats.Opts);
        NatsSubjectLog.ServerError(_logger, DisplayUri, _connectionName, error);

        // The client stops reconnecting for good once the server refuses the login twice in a row, and then neither
        // retries nor closes: the connection would read "reconnecting" for ever, also after the credentials or the server
        // are put right. Closed for good at the first refusal instead, so its owner reconnects on its own schedule (a
        // federation broker with its backoff, naming the refused login) and comes back once the login works again.
        if (IsLoginRefusal(args.Error) && _nats.ConnectionState != NatsConnectionState.Open && Volatile.Read(ref _disposing) == 0)
        {
            CloseForGood(new ConnectionLostException(
                $"The NATS connection {DisplayUri} ({_connectionName}) was refused the login while reconnecting ({error}); the connection is closed."));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The server errors with which the client gives up reconnecting when one comes twice in a row.</summary>
    private static bool IsLoginRefusal(string error) =>
        error.Contains("authorization violation", StringComparison.OrdinalIgnoreCase)
        || error.Contains("authentication expired", StringComparison.OrdinalIgnoreCase)
        || error.Contains("authentication revoked", StringComparison.OrdinalIgnoreCase);

    /// <summary>A subscription dropped a message on <paramref name="subject"/>, for <paramref name="reason"/>.</summary>
    internal void MessageDropped(string subject, string reason)
    {
        var total = Interlocked.Increment(ref _droppedMessages);
        if (IsPowerOfTen(total))
        {
            NatsSubjectLog.MessagesDropped(_logger, DisplayUri, _connectionName, subject, reason, total);
        }
    }

    private ValueTask OnMessageDroppedAsync(object? sender, NatsMessageDroppedEventArgs args)
    {
        // The client drops the newest message when a subscription's buffer is full (a slow handler must not stall the
        // connection's other subscriptions); never silently: counted, and logged with a decade step.
        MessageDropped(args.Subject, "the client's subscription buffer was full");
        return ValueTask.CompletedTask;
    }

    private static bool IsPowerOfTen(long value)
    {
        while (value >= 10 && value % 10 == 0)
        {
            value /= 10;
        }

        return value == 1;
    }

    /// <summary>
    /// The client retries for ever; <c>max-reconnect-attempts</c> ends it here: after that many failed attempts in a row the
    /// connection is closed for good, its subscriptions end and <see cref="Completion"/> faults.
    /// </summary>
    private ValueTask OnReconnectFailedAsync(object? sender, NatsEventArgs args)
    {
        if (_maxReconnectAttempts < 0 || Interlocked.Increment(ref _failedReconnects) <= _maxReconnectAttempts || Volatile.Read(ref _disposing) != 0)
        {
            return ValueTask.CompletedTask;
        }

        NatsSubjectLog.ClosedForGood(_logger, DisplayUri, _connectionName);
        CloseForGood(new ConnectionLostException($"The NATS connection {DisplayUri} ({_connectionName}) gave up reconnecting and is closed for good."));
        return ValueTask.CompletedTask;
    }

    /// <summary>Ends every subscription, faults <see cref="Completion"/> with <paramref name="error"/> and disposes the client (once).</summary>
    private void CloseForGood(ConnectionLostException error)
    {
        if (!_completion.TrySetException(error))
        {
            return;
        }

        NatsSubjectSubscription[] subscriptions;
        lock (_lock)
        {
            subscriptions = [.. _subscriptions];
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Abort();
        }

        _ = Task.Run(async () =>
        {
            Unhook();
            await _nats.DisposeAsync().ConfigureAwait(false);
        });
    }
}
