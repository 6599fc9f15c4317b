using Federation.Core.Addressing;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Federation.Amqp.Messaging;

/// <summary>
/// One <see cref="ISubjectConnection"/> over one RabbitMQ.Client connection: publishes go to a topic exchange on one publish
/// channel, each subscription consumes its own queue on its own channel. The client's automatic recovery is off, as for
/// exchange links: a lost connection faults <see cref="Completion"/> and ends the subscriptions, and the owner reconnects
/// (the federation broker does so with backoff).
/// </summary>
internal sealed class AmqpSubjectConnection : ISubjectConnection
{
    // A disposing connection gives its last publishes this long to reach the server before the socket closes.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private const ushort NotFound = 404;

    // basic.return's reply code for a mandatory message no queue is bound to take.
    private const ushort NoRoute = 312;

    private readonly IConnection _client;
    private readonly string _exchange;
    private readonly string _connectionName;
    private readonly string? _user;
    private readonly string? _password;
    private readonly string _server;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly HashSet<AmqpSubjectSubscription> _subscriptions = [];
    private readonly SemaphoreSlim _publishLock = new(1, 1);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IChannel? _publishChannel;
    private ConnectionLostException? _lost;
    private int _disposing;

    public AmqpSubjectConnection(IConnection client, AmqpEndpoint endpoint, string exchange, string connectionName, UnreadableDeliveries unreadable, ILogger logger)
    {
        _client = client;
        Unreadable = unreadable;
        _exchange = exchange;
        _connectionName = connectionName;
        _user = endpoint.User;
        _password = endpoint.Password;
        _logger = logger;
        DisplayUri = endpoint.DisplayUri;
        var authority = $"{(endpoint.Tls ? AmqpTransport.AmqpsScheme : AmqpTransport.AmqpScheme)}://{(endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"[{endpoint.Host}]" : endpoint.Host)}:{endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        _server = endpoint.VirtualHost == "/" ? authority : $"{authority}/{Uri.EscapeDataString(endpoint.VirtualHost)}";
        client.ConnectionShutdownAsync += OnConnectionShutdownAsync;
        if (!client.IsOpen && client.CloseReason is { } early)
        {
            OnConnectionShutdown(early);
        }
    }

    public string DisplayUri { get; }

    /// <summary><c>amqp://host:port</c> (and the vhost when it is not <c>/</c>), never credentials; null once the connection is gone.</summary>
    public string? ConnectedServer => _client.IsOpen && Volatile.Read(ref _lost) is null ? _server : null;

    public Task Completion => _completion.Task;

    /// <summary>The deliveries whose header RabbitMQ.Client could not have read, defused on the way in; their consumers drop them.</summary>
    internal UnreadableDeliveries Unreadable { get; }

    public ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken) =>
        SubscribeAsync(subject, queueGroup, handler, dropped: null, cancellationToken);

    public async ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, MessageDropHandler? dropped, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        AmqpSubjects.ValidateSubscribe(subject);
        if (queueGroup is not null)
        {
            AmqpSubjects.ValidateQueueGroup(queueGroup);
        }

        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfUnusable();

        // A group's shared queue is auto-delete: when its last member leaves just as this one declares it, the consume finds
        // it gone (404) and a fresh declare brings it back.
        for (var attempt = 1; ; attempt++)
        {
            IChannel channel;
            try
            {
                channel = await _client.CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error) when (Translate(error, subject) is { } mapped)
            {
                throw mapped;
            }

            var subscription = new AmqpSubjectSubscription(this, channel, subject, queueGroup, handler, dropped);
            try
            {
                var queue = queueGroup is null
                    ? (await channel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true, arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false)).QueueName
                    : (await channel.QueueDeclareAsync(AmqpSubjects.GroupQueueName(subject, queueGroup), durable: false, exclusive: false, autoDelete: true, arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false)).QueueName;
                subscription.Queue = queue;
                await channel.QueueBindAsync(queue, _exchange, AmqpSubjects.ToBindingKey(subject), arguments: null, cancellationToken: cancellationToken).ConfigureAwait(false);
                await channel.BasicQosAsync(0, AmqpSubjectSubscription.Prefetch, global: false, cancellationToken).ConfigureAwait(false);
                await channel.BasicConsumeAsync(queue, autoAck: false, subscription, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error)
            {
                channel.Dispose();
                if (error is OperationInterruptedException { ShutdownReason.ReplyCode: NotFound } && queueGroup is not null && attempt < 3 && Volatile.Read(ref _lost) is null)
                {
                    continue;
                }

                if (Translate(error, subject) is { } mapped)
                {
                    throw mapped;
                }

                throw;
            }

            bool accepted;
            lock (_lock)
            {
                accepted = Volatile.Read(ref _disposing) == 0 && _lost is null;
                if (accepted)
                {
                    _subscriptions.Add(subscription);
                }
            }

            if (!accepted)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
                ThrowIfUnusable();
            }

            // The binding is in place once queue.bind-ok arrived: a message published from now on reaches the queue.
            subscription.Start();
            return subscription;
        }
    }

    public async ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        AmqpSubjects.ValidatePublish(message.Subject);
        if (message.ReplyTo is not null)
        {
            AmqpSubjects.ValidatePublish(message.ReplyTo, nameof(message.ReplyTo));
        }

        SubjectHeaderRules.Validate(message);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfUnusable();
        var properties = new BasicProperties { Headers = AmqpSubjectHeaders.ToAmqp(message.Headers), ReplyTo = message.ReplyTo };

        // One publish at a time: messages reach the channel, and so the server, in call order.
        await _publishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var channel = await PublishChannelAsync(cancellationToken).ConfigureAwait(false);
            // Mandatory when this connection could be told that nobody took it (a plain subscription on the reply subject):
            // RabbitMQ returns a message no queue takes (basic.return), the AMQP way of saying "no responders". Not for every
            // publish with a reply subject: a return carries the whole body back (a broker forwarding a broadcast to agents
            // no node has would get each copy back for nothing).
            var mandatory = message.ReplyTo is { } replyTo && FindNoticeSubscription(replyTo) is not null;
            await channel.BasicPublishAsync(_exchange, message.Subject, mandatory, properties, message.Body, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (Translate(error, message.Subject) is { } mapped)
        {
            throw mapped;
        }
        finally
        {
            _publishLock.Release();
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfUnusable();
        await _publishLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The server handles a channel's methods in order: once this round trip on the publish channel is answered, every
            // earlier publish has been routed to its queues.
            var channel = await PublishChannelAsync(cancellationToken).ConfigureAwait(false);
            await channel.ExchangeDeclarePassiveAsync(_exchange, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (Translate(error, subject: null) is { } mapped)
        {
            throw mapped;
        }
        finally
        {
            _publishLock.Release();
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
            AmqpSubjectSubscription[] subscriptions;
            lock (_lock)
            {
                subscriptions = [.. _subscriptions];
            }

            foreach (var subscription in subscriptions)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
            }

            // Closing the publish channel, then the connection, is ordered after every publish: the server routes them first.
            await _publishLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await CloseQuietlyAsync(() => _publishChannel is { IsOpen: true } channel ? channel.CloseAsync() : Task.CompletedTask).ConfigureAwait(false);
                await CloseQuietlyAsync(() => _client.CloseAsync(CloseTimeout)).ConfigureAwait(false);
            }
            finally
            {
                _publishLock.Release();
            }

            _publishChannel?.Dispose();
            _client.ConnectionShutdownAsync -= OnConnectionShutdownAsync;
            _client.Dispose();
            _completion.TrySetResult();
        }
        finally
        {
            _disposed.TrySetResult();
        }
    }

    /// <summary>Forgets a disposed subscription.</summary>
    internal void Forget(AmqpSubjectSubscription subscription)
    {
        lock (_lock)
        {
            _subscriptions.Remove(subscription);
        }
    }

    internal void HandlerFailed(AmqpSubjectSubscription subscription, Exception error) =>
        AmqpSubjectLog.HandlerFailed(_logger, error, DisplayUri, _connectionName, subscription.Subject);

    /// <summary>
    /// Logs a dropped unreadable message: the subscription's first at once, then at most one report per
    /// <see cref="UnreadableReportInterval"/> with the count of those held back, so that a flood of them cannot flood the log.
    /// </summary>
    internal void UnreadableDropped(AmqpSubjectSubscription subscription, string queue, string exchange, string routingKey, string problem)
    {
        if (subscription.UnreadableReports.TryReport(out var heldBack))
        {
            AmqpSubjectLog.UnreadableDropped(_logger, DisplayUri, _connectionName, subscription.Subject,
                PrintableWireText.Escape(queue), PrintableWireText.Escape(exchange), PrintableWireText.Escape(routingKey), problem,
                heldBack, (int)UnreadableReportInterval.TotalSeconds);
        }
    }

    /// <summary>The least time between two reports of dropped unreadable messages on one subscription.</summary>
    internal static readonly TimeSpan UnreadableReportInterval = TimeSpan.FromSeconds(10);

    private async ValueTask<IChannel> PublishChannelAsync(CancellationToken cancellationToken)
    {
        // A channel error (say a message over the server's max_message_size) closes the channel: open a new one. Only the
        // channel, unless RabbitMQ.Client writes a publish queued behind the refused one after it answered the close
        // (rabbitmq/rabbitmq-dotnet-client#1835): RabbitMQ then closes the whole connection, subscriptions included, and
        // it is reported lost. Publishes here are one at a time, which makes that rare; the federation links' publishers
        // have a connection of their own for it (AmqpConnection.CreatePublishChannelAsync).
        if (_publishChannel is { IsOpen: true } open)
        {
            return open;
        }

        _publishChannel?.Dispose();
        _publishChannel = null;
        _publishChannel = await _client.CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
        _publishChannel.BasicReturnAsync += OnReturnAsync;
        return _publishChannel;
    }

    /// <summary>
    /// A mandatory publish no queue took: tells this connection's first plain subscription on its reply subject, as a NATS
    /// server's "no responders" does (arriving before the reply to a later flush on the publish channel).
    /// </summary>
    private Task OnReturnAsync(object sender, BasicReturnEventArgs args)
    {
        if (args.ReplyCode != NoRoute || args.BasicProperties.ReplyTo is not { Length: > 0 } replyTo)
        {
            return Task.CompletedTask;
        }

        FindNoticeSubscription(replyTo)?.DeliverNotice(new SubjectMessage(replyTo, Array.Empty<byte>()) { IsNoResponders = true });
        return Task.CompletedTask;
    }

    /// <summary>This connection's first plain subscription that receives <paramref name="replyTo"/>, or null.</summary>
    private AmqpSubjectSubscription? FindNoticeSubscription(string replyTo)
    {
        lock (_lock)
        {
            foreach (var subscription in _subscriptions)
            {
                if (subscription.QueueGroup is null && SubjectGrammar.Matches(subscription.Subject, replyTo))
                {
                    return subscription;
                }
            }
        }

        return null;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposing) != 0, this);
        if (Volatile.Read(ref _lost) is { } lost)
        {
            throw new ConnectionLostException(lost.Message, lost);
        }
    }

    /// <summary>The SPI's exception for a client failure, or null for one that is not the client's.</summary>
    private Exception? Translate(Exception error, string? subject)
    {
        if (error is OperationCanceledException or ArgumentException)
        {
            return null;
        }

        if (Volatile.Read(ref _disposing) != 0)
        {
            return new ObjectDisposedException(nameof(AmqpSubjectConnection), AmqpErrors.SafeInner(error, _user, _password));
        }

        var about = subject is null ? string.Empty : $" (subject '{subject}')";
        var lost = Volatile.Read(ref _lost);
        if (lost is not null || !_client.IsOpen)
        {
            return new ConnectionLostException($"The AMQP connection {DisplayUri} is closed{about}.", (Exception?)lost ?? AmqpErrors.SafeInner(error, _user, _password));
        }

        return error switch
        {
            OperationInterruptedException { ShutdownReason: { } reason } =>
                new TransportException($"The AMQP channel on {DisplayUri} was closed{about}: {reason.ReplyCode} {AmqpErrors.Scrub(reason.ReplyText, _user, _password)}", AmqpErrors.SafeInner(error, _user, _password)),
            AlreadyClosedException or ObjectDisposedException or System.IO.IOException or System.Net.Sockets.SocketException =>
                new ConnectionLostException($"The AMQP connection {DisplayUri} failed{about}: {AmqpErrors.Scrub(error.Message, _user, _password)}", AmqpErrors.SafeInner(error, _user, _password)),
            _ => null,
        };
    }

    private static async Task CloseQuietlyAsync(Func<Task> close)
    {
        try
        {
            await close().WaitAsync(CloseTimeout).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A connection being disposed: whatever closing it throws changes nothing.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private Task OnConnectionShutdownAsync(object sender, ShutdownEventArgs reason)
    {
        OnConnectionShutdown(reason);
        return Task.CompletedTask;
    }

    private void OnConnectionShutdown(ShutdownEventArgs reason)
    {
        if (Volatile.Read(ref _disposing) != 0 && reason.Initiator == ShutdownInitiator.Application)
        {
            return;
        }

        var text = $"closed by the {(reason.Initiator == ShutdownInitiator.Peer ? "broker" : "client library")}: {reason.ReplyCode} {AmqpErrors.Scrub(reason.ReplyText, _user, _password)}";
        var lost = new ConnectionLostException($"The AMQP connection {DisplayUri} ({_connectionName}) was {text}");
        AmqpSubjectSubscription[] subscriptions;
        lock (_lock)
        {
            if (_lost is not null)
            {
                return;
            }

            Volatile.Write(ref _lost, lost);
            subscriptions = [.. _subscriptions];
        }

        AmqpSubjectLog.ConnectionLost(_logger, DisplayUri, _connectionName, text);
        foreach (var subscription in subscriptions)
        {
            subscription.Abort();
        }

        _completion.TrySetException(lost);
    }
}
