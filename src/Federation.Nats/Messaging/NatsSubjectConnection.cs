using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Client;
using Microsoft.Extensions.Logging;

namespace Federation.Nats.Messaging;

/// <summary>
/// One <see cref="ISubjectConnection"/> over one <see cref="NatsConnection"/>. Unlike the exchange adapter, it lets the client
/// reconnect (and replay every subscription) on its own: a collective broker is stateless, so a reconnect loses nothing but
/// the messages in flight, which core NATS never promised anyway. <see cref="Completion"/> faults only when the client gives
/// up for good (out of reconnect attempts, or the credentials were refused twice in a row).
/// </summary>
internal sealed class NatsSubjectConnection : ISubjectConnection
{
    // A disposing connection gives what it published last this long to reach the server before the socket closes.
    private static readonly TimeSpan FlushOnDispose = TimeSpan.FromSeconds(2);

    private readonly NatsConnection _nats;
    private readonly string _connectionName;
    private readonly string _scheme;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly HashSet<NatsSubjectSubscription> _subscriptions = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposing;
    private long _handlerErrors;
    private ServerUrlCache _server = new(string.Empty, string.Empty);

    public NatsSubjectConnection(NatsConnection nats, string displayUri, string connectionName, bool tls, ILogger logger)
    {
        _nats = nats;
        DisplayUri = displayUri;
        _connectionName = connectionName;
        _scheme = tls ? "tls://" : "nats://";
        _logger = logger;
        nats.ConnectionEvent += OnConnectionEvent;
    }

    public string DisplayUri { get; }

    public string? ConnectedServer
    {
        get
        {
            if (_nats.ConnectedServer is not { } hostPort)
            {
                return null;
            }

            // The broker asks once per message for its seen-by trail: build the URL only when the server changed.
            var cached = Volatile.Read(ref _server);
            if (!string.Equals(cached.HostPort, hostPort, StringComparison.Ordinal))
            {
                cached = new ServerUrlCache(hostPort, _scheme + hostPort);
                Volatile.Write(ref _server, cached);
            }

            return cached.Url;
        }
    }

    public Task Completion => _completion.Task;

    /// <summary>Handler calls that threw, over every subscription of this connection.</summary>
    internal long HandlerErrors => Interlocked.Read(ref _handlerErrors);

    /// <summary>The underlying client, for tests.</summary>
    internal NatsConnection Client => _nats;

    public async ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken)
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
        NatsSubscription nats;
        try
        {
            nats = await _nats.SubscribeAsync(subject, queueGroup, maxMessages: null, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            throw Translate(ex, subject);
        }

        var subscription = new NatsSubjectSubscription(this, nats, handler);
        bool accepted;
        lock (_lock)
        {
            accepted = Volatile.Read(ref _disposing) == 0;
            if (accepted)
            {
                _subscriptions.Add(subscription);
            }
        }

        if (!accepted)
        {
            await nats.UnsubscribeAsync(CancellationToken.None).ConfigureAwait(false);
            throw new ObjectDisposedException(nameof(NatsSubjectConnection));
        }

        subscription.Start();

        // The SPI promises an active subscription once this returns, so a message published right afterwards from another
        // connection is delivered: wait for the server to have the SUB (one PING/PONG). While disconnected the SUB goes out
        // with the next handshake instead.
        if (_nats.State == NatsConnectionState.Connected)
        {
            try
            {
                await _nats.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NatsNotConnectedException)
            {
                // replayed by the reconnect handshake
            }
            catch (OperationCanceledException)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        return subscription;
    }

    public ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ThrowIfDisposed();
        ValueTask publish;
        try
        {
            publish = _nats.PublishAsync(message.Subject, message.Body, NatsSubjectHeaders.ToNats(message.Headers), message.ReplyTo, cancellationToken);
        }
        catch (NatsException ex)
        {
            throw Translate(ex, message.Subject);
        }

        return publish.IsCompletedSuccessfully ? ValueTask.CompletedTask : AwaitPublishAsync(publish, message.Subject);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        try
        {
            await _nats.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            throw Translate(ex, subject: null);
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

            if (_nats.State == NatsConnectionState.Connected)
            {
                try
                {
                    await _nats.FlushAsync(CancellationToken.None).AsTask().WaitAsync(FlushOnDispose).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NatsException or TimeoutException)
                {
                    // best effort: the connection is going away either way
                }
            }

            _nats.ConnectionEvent -= OnConnectionEvent;
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

    private static async ValueTask AwaitPublishAsync(ValueTask publish, string subject)
    {
        try
        {
            await publish.ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            throw Translate(ex, subject);
        }
    }

    private static TransportException Translate(NatsException exception, string? subject) => exception switch
    {
        NatsPayloadTooLargeException tooLarge => new PublishNackedException($"The message for '{subject}' was refused: {tooLarge.Message}", exception),
        NatsAuthenticationException => new AuthenticationFailedException(exception.Message, exception),
        _ => new ConnectionLostException($"The NATS connection is not usable{(subject is null ? string.Empty : $" (subject '{subject}')")}: {exception.Message}", exception),
    };

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposing) != 0, this);

    private void ThrowIfClosedForGood()
    {
        if (_completion.Task.IsFaulted)
        {
            throw new ConnectionLostException($"The NATS connection {DisplayUri} is closed for good.", _completion.Task.Exception!.InnerException!);
        }
    }

    private void OnConnectionEvent(object? sender, NatsConnectionEventArgs e)
    {
        switch (e.Kind)
        {
            case NatsConnectionEventKind.Disconnected:
                NatsSubjectLog.Disconnected(_logger, e.Error, DisplayUri, _connectionName, e.Server);
                break;
            case NatsConnectionEventKind.Reconnected:
                NatsSubjectLog.Reconnected(_logger, DisplayUri, _connectionName, e.Server);
                break;
            case NatsConnectionEventKind.ServerError:
                NatsSubjectLog.ServerError(_logger, e.Error, DisplayUri, _connectionName);
                break;
            case NatsConnectionEventKind.Closed when Volatile.Read(ref _disposing) == 0:
                NatsSubjectLog.ClosedForGood(_logger, DisplayUri, _connectionName);
                NatsSubjectSubscription[] subscriptions;
                lock (_lock)
                {
                    subscriptions = [.. _subscriptions];
                }

                foreach (var subscription in subscriptions)
                {
                    subscription.Abort();
                }

                _completion.TrySetException(new ConnectionLostException($"The NATS connection {DisplayUri} ({_connectionName}) gave up reconnecting and is closed for good."));
                break;
            default:
                break;
        }
    }

    private sealed record ServerUrlCache(string HostPort, string Url);
}
