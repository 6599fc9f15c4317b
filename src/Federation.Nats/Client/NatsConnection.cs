using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading.Channels;
using Federation.Nats.Protocol;

namespace Federation.Nats.Client;

/// <summary>
/// A NATS core connection: one socket with one read loop, one send loop and one keep-alive loop, reconnecting across
/// the server list with exponential backoff and jitter, and replaying every live subscription on each new socket.
/// </summary>
/// <remarks>
/// <para><b>Publishing while disconnected fails fast</b>: <c>PublishAsync</c>, <see cref="RequestAsync"/> and
/// <see cref="FlushAsync"/> throw <see cref="NatsNotConnectedException"/> while there is no handshaken socket. Publishes
/// accepted while connected but still queued (or mid-write) when the socket dies are discarded, never re-sent, and
/// counted in <see cref="NatsStatistics.LostPublishes"/>: core NATS is at-most-once, and a caller that needs more
/// (a federation link acknowledging upstream) must only acknowledge after <see cref="FlushAsync"/> succeeds.</para>
/// <para>Subscribing works in any state: the subscription is registered locally and sent with the next handshake.</para>
/// </remarks>
public sealed class NatsConnection : IAsyncDisposable
{
    private readonly NatsClientOptions _options;
    private readonly ServerAddress[] _servers;
    private readonly List<ServerAddress> _candidates;
    private readonly CommandWriter _writer;
    private readonly Lock _subsLock = new();
    private readonly Dictionary<long, NatsSubscription> _subs = [];
    private readonly ConcurrentDictionary<string, TaskCompletionSource<NatsMsg>> _requests = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly Channel<NatsConnectionEventArgs> _events = Channel.CreateUnbounded<NatsConnectionEventArgs>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _eventLoop;
    private readonly string _inboxPrefix;
    private long _nextSid;
    private long _nextRequestId;
    private int _state = (int)NatsConnectionState.Initial;
    private int _pingsOut;
    private int _serverIndex;
    private int _disposed;
    private NatsSubscription? _inbox;
    private SocketContext? _current;
    private Task? _supervisor;
    private NatsServerInfo? _serverInfo;
    private long _inMsgs;
    private long _inBytes;
    private long _outMsgs;
    private long _outBytes;
    private long _reconnects;
    private long _dropped;
    private long _lost;
    private long _protocolErrors;

    /// <summary>Creates a connection (not yet connected; call <see cref="ConnectAsync"/>).</summary>
    public NatsConnection(NatsClientOptions? options = null)
    {
        _options = options ?? NatsClientOptions.Default;
        if (_options.Servers.Count == 0)
        {
            throw new ArgumentException("At least one server URL is required.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(_options.SubscriptionBufferCapacity, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxPingsOut, 1, nameof(options));
        if (_options.NoResponders && !_options.Headers)
        {
            throw new ArgumentException("NoResponders requires Headers (the server rejects it otherwise).", nameof(options));
        }

        _servers = [.. _options.Servers.Select(ServerAddress.Parse)];
        _candidates = [.. _servers];
        _writer = new CommandWriter(_options.WriteBufferLimit);
        _inboxPrefix = $"{_options.InboxPrefix}.{Nuid.Next()}.";
        _eventLoop = Task.Run(RunEventLoopAsync, CancellationToken.None);
    }

    /// <summary>Connection events (connected, disconnected, reconnected, server errors, closed), raised off the read loop.</summary>
    public event EventHandler<NatsConnectionEventArgs>? ConnectionEvent;

    /// <summary>The current state.</summary>
    public NatsConnectionState State => (NatsConnectionState)Volatile.Read(ref _state);

    /// <summary>The last INFO received, or null before the first connection.</summary>
    public NatsServerInfo? ServerInfo => Volatile.Read(ref _serverInfo);

    /// <summary>host:port of the server currently connected to, or null.</summary>
    public string? ConnectedServer => State == NatsConnectionState.Connected ? _current?.Address.ToString() : null;

    /// <summary>The options.</summary>
    public NatsClientOptions Options => _options;

    /// <summary>Socket writes performed so far (each a coalesced batch of commands).</summary>
    internal long WriteBatches => _writer.Batches;

    /// <summary>A snapshot of the counters.</summary>
    public NatsStatistics GetStatistics() => new(
        Interlocked.Read(ref _inMsgs),
        Interlocked.Read(ref _inBytes),
        Interlocked.Read(ref _outMsgs),
        Interlocked.Read(ref _outBytes),
        Interlocked.Read(ref _reconnects),
        Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _lost),
        Interlocked.Read(ref _protocolErrors));

    /// <summary>
    /// Connects to the first server of the list that accepts (each tried once), then keeps the connection alive in the
    /// background. Throws <see cref="NatsAuthenticationException"/> when credentials are rejected.
    /// </summary>
    public async ValueTask ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.CompareExchange(ref _state, (int)NatsConnectionState.Connecting, (int)NatsConnectionState.Initial) != (int)NatsConnectionState.Initial)
        {
            throw new InvalidOperationException($"ConnectAsync can only be called once; the connection is {State}.");
        }

        Exception? last = null;
        var connected = false;
        try
        {
            for (var i = 0; i < _servers.Length && !connected; i++)
            {
                try
                {
                    _current = await ConnectSocketAsync(_servers[i], cancellationToken).ConfigureAwait(false);
                    lock (_candidates)
                    {
                        _serverIndex = _candidates.IndexOf(_servers[i]);
                    }

                    connected = true;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    last = ex;
                }
            }
        }
        finally
        {
            if (!connected && Volatile.Read(ref _disposed) == 0)
            {
                SetState(NatsConnectionState.Initial); // ConnectAsync may be called again
            }
        }

        if (!connected)
        {
            throw last is NatsException ? last : new NatsException("Could not connect to any NATS server.", last!);
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            _current!.Closed.TrySetResult(new ObjectDisposedException(nameof(NatsConnection)));
            await TearDownAsync(_current).ConfigureAwait(false);
            throw new ObjectDisposedException(nameof(NatsConnection));
        }

        SetState(NatsConnectionState.Connected);
        Raise(NatsConnectionEventKind.Connected, null);
        _supervisor = Task.Run(SuperviseAsync, CancellationToken.None);
    }

    /// <summary>
    /// Publishes a message (HPUB when <paramref name="headers"/> is given). Completes once the message is queued for the
    /// socket (use <see cref="FlushAsync"/> to know the server has it). Throws <see cref="NatsPayloadTooLargeException"/>
    /// above the server's max_payload and <see cref="NatsNotConnectedException"/> while disconnected.
    /// </summary>
    public ValueTask PublishAsync(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers = null, string? replyTo = null, CancellationToken cancellationToken = default)
    {
        NatsSubjects.ValidatePublish(subject);
        if (replyTo is not null)
        {
            NatsSubjects.ValidatePublish(replyTo, nameof(replyTo));
        }

        var size = data.Length;
        if (headers is not null)
        {
            HeaderCodec.Validate(headers);
            size += HeaderCodec.GetLength(headers);
        }

        return PublishCore(subject, data, headers, default, replyTo, size, cancellationToken);
    }

    /// <summary>
    /// Publishes a message whose header block is already encoded (a complete <c>NATS/1.0</c> block, valid by
    /// construction; empty for a plain PUB): the transport's publish path, which builds the block straight from the
    /// message properties instead of through a <see cref="NatsHeaders"/>. The block is copied before this returns.
    /// </summary>
    internal ValueTask PublishEncodedAsync(string subject, ReadOnlyMemory<byte> data, ReadOnlyMemory<byte> headerBlock, CancellationToken cancellationToken)
    {
        NatsSubjects.ValidatePublish(subject);
        return PublishCore(subject, data, null, headerBlock, null, data.Length + headerBlock.Length, cancellationToken);
    }

    private ValueTask PublishCore(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers, ReadOnlyMemory<byte> headerBlock, string? replyTo, int size, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfNotConnected();
        var info = ServerInfo;
        if (info is not null && size > info.MaxPayload)
        {
            throw new NatsPayloadTooLargeException(size, info.MaxPayload);
        }

        var wait = _writer.WaitForCapacityAsync(cancellationToken);
        if (!wait.IsCompletedSuccessfully)
        {
            // The caller may reuse its header block buffer once this returns.
            return PublishSlowAsync(wait, subject, data, headers, headerBlock.IsEmpty ? headerBlock : headerBlock.ToArray(), replyTo, size);
        }

        Enqueue(subject, data, headers, headerBlock.Span, replyTo, size);
        return ValueTask.CompletedTask;
    }

    /// <summary>Publishes an empty message.</summary>
    public ValueTask PublishAsync(string subject, CancellationToken cancellationToken = default) =>
        PublishAsync(subject, ReadOnlyMemory<byte>.Empty, null, null, cancellationToken);

    /// <summary>
    /// Subscribes; read the returned subscription with <c>await foreach</c>. <paramref name="maxMessages"/> makes the
    /// server (and the client) end the subscription after that many messages.
    /// </summary>
    public ValueTask<NatsSubscription> SubscribeAsync(string subject, string? queueGroup = null, long? maxMessages = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Subscribe(subject, queueGroup, maxMessages, isInbox: false));
    }

    /// <summary>Subscribes with a handler, called for one message at a time on a background task; handler exceptions are counted and swallowed.</summary>
    public ValueTask<NatsSubscription> SubscribeAsync(string subject, Func<NatsMsg, CancellationToken, ValueTask> handler, string? queueGroup = null, long? maxMessages = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        cancellationToken.ThrowIfCancellationRequested();
        var subscription = Subscribe(subject, queueGroup, maxMessages, isInbox: false);
        subscription.HandlerTask = subscription.RunHandlerAsync(handler, _disposeCts.Token);
        return ValueTask.FromResult(subscription);
    }

    /// <summary>Sends a PING and waits for the PONG: everything published before has reached the server.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfNotConnected();
        var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _writer.Ping(pong);
        await pong.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Like <see cref="FlushAsync"/>, but concurrent callers share one PING per socket write (group commit): for
    /// publishers that confirm every message, such as a federation link in on-confirm mode.
    /// </summary>
    internal Task FlushCoalescedAsync(CancellationToken cancellationToken)
    {
        ThrowIfNotConnected();
        var flushed = _writer.FlushAtBatchEnd();

        // Without a token every caller of one batch gets the same task, which the transport maps once per batch.
        return cancellationToken.CanBeCanceled ? flushed.WaitAsync(cancellationToken) : flushed;
    }

    /// <summary>
    /// Sends a request over the connection's single multiplexed inbox subscription and waits for the first reply.
    /// Throws <see cref="NatsNoRespondersException"/> when nobody listens and <see cref="NatsRequestTimeoutException"/>
    /// after <paramref name="timeout"/> (default <see cref="NatsClientOptions.RequestTimeout"/>).
    /// </summary>
    public async ValueTask<NatsMsg> RequestAsync(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        NatsSubjects.ValidatePublish(subject);
        EnsureInbox();
        var token = Interlocked.Increment(ref _nextRequestId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var reply = new TaskCompletionSource<NatsMsg>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests[token] = reply;
        try
        {
            await PublishAsync(subject, data, headers, _inboxPrefix + token, cancellationToken).ConfigureAwait(false);
            NatsMsg message;
            try
            {
                message = await reply.Task.WaitAsync(timeout ?? _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw new NatsRequestTimeoutException($"No reply to the request on '{subject}' within {(timeout ?? _options.RequestTimeout).TotalMilliseconds} ms.", ex);
            }

            if (message.Headers?.StatusCode == NatsProtocol.NoRespondersStatus && message.Data.IsEmpty)
            {
                throw new NatsNoRespondersException($"No responders are subscribed to '{subject}'.");
            }

            return message;
        }
        finally
        {
            _requests.TryRemove(token, out _);
        }
    }

    /// <summary>
    /// Drains: unsubscribes every subscription, flushes so the server stops sending, lets handlers and readers consume
    /// what is buffered (until <paramref name="cancellationToken"/> fires), then closes.
    /// </summary>
    public async ValueTask DrainAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        SetState(NatsConnectionState.Draining);
        NatsSubscription[] subscriptions;
        lock (_subsLock)
        {
            subscriptions = [.. _subs.Values.Where(s => !s.IsInbox)];
            foreach (var subscription in subscriptions)
            {
                _subs.Remove(subscription.Sid);
            }
        }

        foreach (var subscription in subscriptions)
        {
            _writer.Unsubscribe(subscription.Sid, null);
        }

        try
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsNotConnectedException)
        {
            // nothing more can arrive anyway
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Complete();
        }

        try
        {
            await Task.WhenAll(subscriptions.Select(s => s.Completion)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Closes the socket at once, ends every subscription and fails pending requests.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        SetState(NatsConnectionState.Closed);
        await _disposeCts.CancelAsync().ConfigureAwait(false);
        if (_current is { } context)
        {
            context.Closed.TrySetResult(new ObjectDisposedException(nameof(NatsConnection)));
            await TearDownAsync(context).ConfigureAwait(false);
        }

        if (_supervisor is { } supervisor)
        {
            await supervisor.ConfigureAwait(false);
        }

        CompleteEverythingPending("The connection was closed before the reply arrived.");

        Raise(NatsConnectionEventKind.Closed, null);
        _events.Writer.TryComplete();
        await _eventLoop.ConfigureAwait(false);
        _disposeCts.Dispose();
    }

    internal ValueTask UnsubscribeAsync(NatsSubscription subscription, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Unsubscribe(subscription);
        return ValueTask.CompletedTask;
    }

    private void Unsubscribe(NatsSubscription subscription)
    {
        bool removed;
        lock (_subsLock)
        {
            removed = _subs.Remove(subscription.Sid);
        }

        if (removed)
        {
            _writer.Unsubscribe(subscription.Sid, null);
        }

        subscription.Complete();
    }

    internal void CountDropped() => Interlocked.Increment(ref _dropped);

    private async ValueTask PublishSlowAsync(ValueTask wait, string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers, ReadOnlyMemory<byte> headerBlock, string? replyTo, int size)
    {
        await wait.ConfigureAwait(false);
        Enqueue(subject, data, headers, headerBlock.Span, replyTo, size);
    }

    private void Enqueue(string subject, ReadOnlyMemory<byte> data, NatsHeaders? headers, ReadOnlySpan<byte> headerBlock, string? replyTo, int size)
    {
        _writer.Publish(subject, replyTo, headers, new ReadOnlySequence<byte>(data), headerBlock);
        Interlocked.Increment(ref _outMsgs);
        Interlocked.Add(ref _outBytes, size);
    }

    /// <summary>
    /// Subscribes with a handler called on the read loop itself, one message at a time, with no buffer in between: for
    /// in-library consumers (the transport's router) whose handler only hands the message on without blocking. Saves a
    /// channel and a thread hop per message; a throwing handler is counted, never fatal for the read loop.
    /// </summary>
    internal NatsSubscription SubscribeInline(string subject, Action<NatsMsg> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Subscribe(subject, null, null, isInbox: false, handler);
    }

    private NatsSubscription Subscribe(string subject, string? queueGroup, long? maxMessages, bool isInbox, Action<NatsMsg>? inlineHandler = null)
    {
        NatsSubjects.ValidateSubscribe(subject);
        if (queueGroup is not null)
        {
            NatsSubjects.ValidateQueueGroup(queueGroup);
        }

        if (maxMessages is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxMessages), maxMessages, "The auto-unsubscribe limit must be positive.");
        }

        ThrowIfClosed();
        var sid = Interlocked.Increment(ref _nextSid);
        var subscription = new NatsSubscription(this, sid, subject, queueGroup, maxMessages, _options, isInbox, inlineHandler);
        lock (_subsLock)
        {
            _subs.Add(sid, subscription);
        }

        _writer.Subscribe(subject, queueGroup, sid, maxMessages);
        return subscription;
    }

    private void EnsureInbox()
    {
        if (Volatile.Read(ref _inbox) is not null)
        {
            return;
        }

        lock (_subsLock)
        {
            if (_inbox is not null)
            {
                return;
            }
        }

        var inbox = Subscribe(_inboxPrefix + "*", null, null, isInbox: true);
        if (Interlocked.CompareExchange(ref _inbox, inbox, null) is not null)
        {
            Unsubscribe(inbox);
        }
    }

    private void ThrowIfClosed()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (State is NatsConnectionState.Closed)
        {
            throw new NatsNotConnectedException("The connection is closed.");
        }
    }

    /// <summary>Publishes and flushes fail fast unless a handshaken socket is up (or the connection is draining).</summary>
    private void ThrowIfNotConnected()
    {
        ThrowIfClosed();
        if (State is not (NatsConnectionState.Connected or NatsConnectionState.Draining))
        {
            throw new NatsNotConnectedException();
        }
    }

    private void SetState(NatsConnectionState state) => Volatile.Write(ref _state, (int)state);

    private void Raise(NatsConnectionEventKind kind, Exception? error, ServerAddress? server = null) =>
        _events.Writer.TryWrite(new NatsConnectionEventArgs(kind, (server ?? _current?.Address)?.ToString(), error));

    private async Task RunEventLoopAsync()
    {
        await foreach (var args in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                ConnectionEvent?.Invoke(this, args);
            }
#pragma warning disable CA1031 // a faulty event handler must not stop event delivery
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    // ---------------------------------------------------------------- socket lifecycle

    private async Task<SocketContext> ConnectSocketAsync(ServerAddress address, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposeCts.Token);
        timeout.CancelAfter(_options.ConnectTimeout);
        var token = timeout.Token;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        PipeReader? reader = null;
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            var parser = new NatsParser(_options.MaxControlLine);
            reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
            var first = await ReadOneAsync(reader, parser, token).ConfigureAwait(false);
            if (first.Kind != ServerOpKind.Info)
            {
                throw new NatsProtocolException($"Expected INFO from {address}, got {first.Kind}.");
            }

            var info = ParseInfo(first.Text!);
            var useTls = address.Tls || info.TlsRequired;
            if (useTls)
            {
                await reader.CompleteAsync().ConfigureAwait(false);
                var tls = _options.Tls ?? new TlsOptions();
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = tls.TargetHost ?? address.Host,
                        RemoteCertificateValidationCallback = tls.ServerCertificateValidation,
                        ClientCertificates = tls.ClientCertificates,
                        EnabledSslProtocols = tls.EnabledProtocols,
                    },
                    token).ConfigureAwait(false);
                reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
            }

            parser.ApplyServerMaxPayload(info.MaxPayload);
            Volatile.Write(ref _serverInfo, info);
            Discover(info, address);
            Interlocked.Exchange(ref _pingsOut, 0);

            // Publishes may queue from here on; they go out after the handshake, behind the replayed subscriptions.
            _writer.Open();
            var handshake = new ArrayBufferWriter<byte>(1024);
            ProtocolWriter.WriteConnect(handshake, BuildConnectJson(address, useTls));
            NatsSubscription[] live;
            lock (_subsLock)
            {
                live = [.. _subs.Values];
            }

            foreach (var subscription in live)
            {
                ProtocolWriter.WriteSub(handshake, subscription.Subject, subscription.QueueGroup, subscription.Sid);
                if (subscription.Remaining is { } remaining)
                {
                    ProtocolWriter.WriteUnsub(handshake, subscription.Sid, remaining);
                }
            }

            ProtocolWriter.WritePing(handshake);
            await stream.WriteAsync(handshake.WrittenMemory, token).ConfigureAwait(false);
            await stream.FlushAsync(token).ConfigureAwait(false);

            while (true)
            {
                var op = await ReadOneAsync(reader, parser, token).ConfigureAwait(false);
                if (op.Kind == ServerOpKind.Pong)
                {
                    break;
                }

                switch (op.Kind)
                {
                    case ServerOpKind.Ping:
                        await stream.WriteAsync(NatsProtocol.PongLine.ToArray(), token).ConfigureAwait(false);
                        await stream.FlushAsync(token).ConfigureAwait(false);
                        break;
                    case ServerOpKind.Err:
                        throw ClassifyError(op.Text!, address, fatalOnly: false)!;
                    case ServerOpKind.Info:
                        ApplyInfo(op.Text!, parser, address);
                        break;
                    case ServerOpKind.Msg or ServerOpKind.HMsg:
                        Dispatch(op);
                        break;
                }
            }

            var context = new SocketContext(address, stream, reader, parser, CancellationTokenSource.CreateLinkedTokenSource(_disposeCts.Token));
            context.Read = Task.Run(() => ReadLoopAsync(context), CancellationToken.None);
            context.Send = Task.Run(() => SendLoopAsync(context), CancellationToken.None);
            context.Ping = Task.Run(() => PingLoopAsync(context), CancellationToken.None);
            return context;
        }
        catch (Exception ex)
        {
            Interlocked.Add(ref _lost, _writer.Close(new NatsNotConnectedException("The connection attempt failed.")));
            if (reader is not null)
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }

            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }

            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested && !_disposeCts.IsCancellationRequested)
            {
                throw new NatsException($"Timed out connecting to {address} after {_options.ConnectTimeout.TotalMilliseconds} ms.", ex);
            }

            if (ex is NatsProtocolException)
            {
                Interlocked.Increment(ref _protocolErrors);
            }

            throw;
        }
    }

    private static async Task<ServerOp> ReadOneAsync(PipeReader reader, NatsParser parser, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            ServerOp? op;
            try
            {
                if (parser.TryParse(ref buffer, out op))
                {
                    reader.AdvanceTo(buffer.Start);
                    return op;
                }
            }
            catch
            {
                reader.AdvanceTo(buffer.Start);
                throw;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                throw new IOException("The server closed the connection.");
            }
        }
    }

    private async Task ReadLoopAsync(SocketContext context)
    {
        var reader = context.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(context.Cts.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (context.Parser.TryParse(ref buffer, out var op))
                    {
                        Handle(context, op);
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    throw new IOException($"The server {context.Address} closed the connection.");
                }
            }
        }
        catch (Exception ex)
        {
            if (ex is NatsProtocolException)
            {
                Interlocked.Increment(ref _protocolErrors);
            }

            context.Closed.TrySetResult(ex);
        }
    }

    private async Task SendLoopAsync(SocketContext context)
    {
        try
        {
            await _writer.RunSendLoopAsync(context.Stream, context.Cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            context.Closed.TrySetResult(ex);
        }
    }

    private async Task PingLoopAsync(SocketContext context)
    {
        try
        {
            using var timer = new PeriodicTimer(_options.PingInterval);
            while (await timer.WaitForNextTickAsync(context.Cts.Token).ConfigureAwait(false))
            {
                var outstanding = Interlocked.Increment(ref _pingsOut);
                if (outstanding > _options.MaxPingsOut)
                {
                    context.Closed.TrySetResult(new NatsException($"Stale connection to {context.Address}: {outstanding - 1} pings unanswered."));
                    return;
                }

                _writer.Ping(null);
            }
        }
        catch (Exception ex)
        {
            context.Closed.TrySetResult(ex);
        }
    }

    private void Handle(SocketContext context, ServerOp op)
    {
        switch (op.Kind)
        {
            case ServerOpKind.Msg or ServerOpKind.HMsg:
                Dispatch(op);
                break;
            case ServerOpKind.Ping:
                _writer.Pong();
                break;
            case ServerOpKind.Pong:
                Interlocked.Exchange(ref _pingsOut, 0);
                _writer.OnPong();
                break;
            case ServerOpKind.Info:
                ApplyInfo(op.Text!, context.Parser, context.Address);
                break;
            case ServerOpKind.Err:
                if (ClassifyError(op.Text!, context.Address, fatalOnly: true) is { } fatal)
                {
                    throw fatal;
                }

                Raise(NatsConnectionEventKind.ServerError, new NatsServerErrorException($"Server {context.Address} reported: {op.Text}"));
                break;
        }
    }

    private void Dispatch(ServerOp op)
    {
        Interlocked.Increment(ref _inMsgs);
        Interlocked.Add(ref _inBytes, op.Payload.Length + (op.Headers is null ? 0 : HeaderCodec.GetLength(op.Headers)));
        NatsSubscription? subscription;
        lock (_subsLock)
        {
            _subs.TryGetValue(op.Sid, out subscription);
        }

        if (subscription is null)
        {
            return; // unsubscribed meanwhile
        }

        var message = new NatsMsg(op.Subject!, op.ReplyTo, op.Headers, op.Payload, this);
        if (subscription.IsInbox)
        {
            var token = op.Subject!.StartsWith(_inboxPrefix, StringComparison.Ordinal) ? op.Subject[_inboxPrefix.Length..] : op.Subject;
            if (_requests.TryRemove(token, out var waiter))
            {
                waiter.TrySetResult(message);
            }

            return;
        }

        if (subscription.Deliver(message))
        {
            lock (_subsLock)
            {
                _subs.Remove(subscription.Sid);
            }

            subscription.Complete();
        }
    }

    private void ApplyInfo(string json, NatsParser parser, ServerAddress address)
    {
        var info = ParseInfo(json);
        parser.ApplyServerMaxPayload(info.MaxPayload);
        Volatile.Write(ref _serverInfo, info);
        Discover(info, address);
    }

    /// <summary>Adds the cluster members announced in <c>connect_urls</c> to the reconnect candidates (same scheme as the seed).</summary>
    private void Discover(NatsServerInfo info, ServerAddress via)
    {
        if (!_options.DiscoverServers)
        {
            return;
        }

        foreach (var url in info.ConnectUrls)
        {
            if (!ServerAddress.TryParseDiscovered(url, via.Tls, out var discovered))
            {
                continue;
            }

            lock (_candidates)
            {
                if (!_candidates.Any(c => string.Equals(c.ToString(), discovered.ToString(), StringComparison.OrdinalIgnoreCase)))
                {
                    _candidates.Add(discovered);
                }
            }
        }
    }

    /// <summary>Maps -ERR text to an exception; with <paramref name="fatalOnly"/>, returns null for errors the server survives.</summary>
    private static Exception? ClassifyError(string text, ServerAddress address, bool fatalOnly)
    {
        if (text.StartsWith(NatsProtocol.AuthorizationViolation, StringComparison.OrdinalIgnoreCase)
            || text.StartsWith(NatsProtocol.AuthenticationExpired, StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("Authentication Timeout", StringComparison.OrdinalIgnoreCase))
        {
            return new NatsAuthenticationException($"Server {address} rejected the credentials: {text}.");
        }

        var survivable = text.StartsWith("Permissions Violation", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("Invalid Subject", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("Invalid Publish Subject", StringComparison.OrdinalIgnoreCase);
        if (survivable && fatalOnly)
        {
            return null;
        }

        return new NatsServerErrorException($"Server {address} reported: {text}");
    }

    private static NatsServerInfo ParseInfo(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new NatsProtocolException("INFO body is not a JSON object.");
            }

            string? Str(string name) => root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            bool Bool(string name) => root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.True;
            var maxPayload = root.TryGetProperty("max_payload", out var mp) && mp.ValueKind == JsonValueKind.Number && mp.TryGetInt64(out var value) && value > 0
                ? value
                : NatsProtocol.DefaultMaxPayload;
            var urls = root.TryGetProperty("connect_urls", out var cu) && cu.ValueKind == JsonValueKind.Array
                ? cu.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray()
                : [];
            return new NatsServerInfo(Str("server_id") ?? string.Empty, Str("server_name"), Str("version"), maxPayload, Bool("headers"), Bool("auth_required"), Bool("tls_required"), urls, Bool("ldm"));
        }
        catch (JsonException ex)
        {
            throw new NatsProtocolException("INFO body is not valid JSON.", ex);
        }
    }

    private byte[] BuildConnectJson(ServerAddress address, bool tls)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteBoolean("verbose", _options.Verbose);
            json.WriteBoolean("pedantic", _options.Pedantic);
            json.WriteBoolean("tls_required", tls);
            if (_options.Name is not null)
            {
                json.WriteString("name", _options.Name);
            }

            json.WriteString("lang", NatsProtocol.Lang);
            json.WriteString("version", NatsProtocol.ClientVersion);
            json.WriteNumber("protocol", NatsProtocol.ProtocolLevel);
            json.WriteBoolean("echo", _options.Echo);
            json.WriteBoolean("headers", _options.Headers);
            json.WriteBoolean("no_responders", _options.NoResponders && _options.Headers);
            var token = _options.Token ?? address.Token;
            var user = _options.User ?? address.User;
            var password = _options.Password ?? address.Password;
            if (token is not null)
            {
                json.WriteString("auth_token", token);
            }
            else if (user is not null)
            {
                json.WriteString("user", user);
                json.WriteString("pass", password ?? string.Empty);
            }

            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private async Task TearDownAsync(SocketContext context)
    {
        if (Interlocked.Exchange(ref context.TornDown, 1) != 0)
        {
            await context.TearDownCompleted.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            await TearDownCoreAsync(context).ConfigureAwait(false);
        }
        finally
        {
            context.TearDownCompleted.TrySetResult();
        }
    }

    private async Task TearDownCoreAsync(SocketContext context)
    {
        await context.Cts.CancelAsync().ConfigureAwait(false);
        Interlocked.Add(ref _lost, _writer.Close(new NatsNotConnectedException($"The connection to {context.Address} was lost before the PONG arrived.")));
        await context.Stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(context.Read, context.Send, context.Ping).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the loops report through context.Closed; nothing left to observe here
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        await context.Reader.CompleteAsync().ConfigureAwait(false);
        context.Cts.Dispose();
    }

    private async Task SuperviseAsync()
    {
        while (true)
        {
            var context = _current!;
            var error = await context.Closed.Task.ConfigureAwait(false);
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            await TearDownAsync(context).ConfigureAwait(false);
            if (State == NatsConnectionState.Draining || Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            SetState(NatsConnectionState.Reconnecting);
            Raise(NatsConnectionEventKind.Disconnected, error, context.Address);
            var next = await ReconnectAsync().ConfigureAwait(false);
            if (next is null)
            {
                return;
            }

            _current = next;
            if (Volatile.Read(ref _disposed) != 0)
            {
                next.Closed.TrySetResult(new ObjectDisposedException(nameof(NatsConnection)));
                await TearDownAsync(next).ConfigureAwait(false);
                return;
            }

            Interlocked.Increment(ref _reconnects);
            SetState(NatsConnectionState.Connected);
            Raise(NatsConnectionEventKind.Reconnected, null, next.Address);
        }
    }

    private async Task<SocketContext?> ReconnectAsync()
    {
        var attempt = 0;
        var authFailures = 0;
        while (!_disposeCts.IsCancellationRequested)
        {
            if (_options.MaxReconnectAttempts >= 0 && attempt >= _options.MaxReconnectAttempts)
            {
                await CloseForGoodAsync().ConfigureAwait(false);
                return null;
            }

            ServerAddress address;
            lock (_candidates)
            {
                _serverIndex = (_serverIndex + 1) % _candidates.Count;
                address = _candidates[_serverIndex];
            }

            try
            {
                return await ConnectSocketAsync(address, _disposeCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_disposeCts.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception ex)
            {
                Raise(NatsConnectionEventKind.ReconnectFailed, ex, address);
                authFailures = ex is NatsAuthenticationException ? authFailures + 1 : 0;
                if (authFailures >= 2)
                {
                    await CloseForGoodAsync().ConfigureAwait(false);
                    return null;
                }
            }

            attempt++;
            try
            {
                await Task.Delay(Backoff(attempt), _disposeCts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        return null;
    }

    private TimeSpan Backoff(int attempt)
    {
        var min = _options.ReconnectWaitMin;
        var max = _options.ReconnectWaitMax < min ? min : _options.ReconnectWaitMax;
        var wait = min * Math.Pow(2, Math.Min(attempt - 1, 20));
        if (wait > max)
        {
            wait = max;
        }

        return wait + (_options.ReconnectJitter * Random.Shared.NextDouble());
    }

    private Task CloseForGoodAsync()
    {
        SetState(NatsConnectionState.Closed);
        CompleteEverythingPending("The connection gave up reconnecting.");

        Raise(NatsConnectionEventKind.Closed, null);
        return Task.CompletedTask;
    }

    private sealed class SocketContext(ServerAddress address, Stream stream, PipeReader reader, NatsParser parser, CancellationTokenSource cts)
    {
        public ServerAddress Address { get; } = address;

        public Stream Stream { get; } = stream;

        public PipeReader Reader { get; } = reader;

        public NatsParser Parser { get; } = parser;

        public CancellationTokenSource Cts { get; } = cts;

        public TaskCompletionSource<Exception> Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Read { get; set; } = Task.CompletedTask;

        public Task Send { get; set; } = Task.CompletedTask;

        public Task Ping { get; set; } = Task.CompletedTask;

        public TaskCompletionSource TearDownCompleted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

#pragma warning disable SA1401, CA1051 // an Interlocked flag
        public int TornDown;
#pragma warning restore SA1401, CA1051
    }

    /// <summary>Ends every subscription and fails every pending request: the connection is over for good.</summary>
    private void CompleteEverythingPending(string requestFailure)
    {
        NatsSubscription[] subscriptions;
        lock (_subsLock)
        {
            subscriptions = [.. _subs.Values];
            _subs.Clear();
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Complete();
        }

        foreach (var request in _requests.Values)
        {
            request.TrySetException(new NatsNotConnectedException(requestFailure));
        }
    }
}
