using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// One AMQP connection to one vhost. Topology operations run one at a time on a dedicated topology channel, which is
/// replaced after a channel error (AMQP closes the channel on 404/406), so one failed passive declare leaves the connection usable.
/// Publishers and consumers each get their own channel; the publishers' channels live on a second connection of their own
/// (see <see cref="CreatePublishChannelAsync"/>).
/// </summary>
internal sealed class AmqpConnection : IBrokerConnection
{
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim topologyLock = new(1, 1);
    private readonly AmqpQueueWatches queueWatches;
    private IChannel? topologyChannel;

    // Set when a no-wait bind was sent on the current topology channel and no later synchronous call proved it succeeded.
    private volatile bool noWaitPending;
    private volatile ConnectionLostException? lostBecause;
    // The broker's reason while it blocks this connection (connection.blocked during a memory or disk alarm), else null.
    private volatile string? blockedBecause;
    private volatile bool disposing;
    private AmqpTopologySource? topology;
    // The broker's max_message_size once a refusal told it (0 until then); see AmqpMessageSizeLimit.
    private long maxMessageSize;
    // The connection's user once the broker refused a user_id naming someone else (null until then); see AmqpUserIdImpersonation.
    private volatile string? nonImpersonatingUser;
    // The probe of whether the user may impersonate (null until a publisher or ledger needed it); see AmqpImpersonationProbe.
    private Task<bool?>? impersonationProbe;

    // The publishers' connection (see CreatePublishChannelAsync): opened by openPublishing when the first publisher needs it,
    // and again after it closed; null before and after. Replaced under publishingLock.
    private readonly Func<CancellationToken, Task<IConnection>>? openPublishing;
    private readonly SemaphoreSlim publishingLock = new(1, 1);
    private IConnection? publishing;

    private AmqpConnection(IConnection client, AmqpEndpoint endpoint, string name, Func<CancellationToken, Task<IConnection>>? openPublishing)
    {
        this.openPublishing = openPublishing;
        Client = client;
        Endpoint = endpoint;
        Name = name;
        Management = new ManagementApi(endpoint);
        queueWatches = new AmqpQueueWatches(this);
        Leases = new ExclusiveQueueLeases(this, Management.GetQueueArgumentsAsync, queueWatches.WatchAsync);
        ClusterName = client.ServerProperties is { } properties && properties.TryGetValue("cluster_name", out var value)
            ? AmqpHeaders.FromAmqpValue(value) as string
            : null;
    }

    public IConnection Client { get; }

    public AmqpEndpoint Endpoint { get; }

    public string Name { get; }

    public ManagementApi Management { get; }

    public string? ClusterName { get; }

    public string VirtualHost => Endpoint.VirtualHost;

    public string DisplayUri => Endpoint.DisplayUri;

    public Task Completion => completion.Task;

    public ITopologySource? Topology => topology;

    /// <summary>
    /// Exclusive queues; who holds a locked one is read from its arguments through the management API, and each held one is
    /// watched for its deletion by a consumer on a channel all the leases share (see <see cref="AmqpQueueWatches"/>).
    /// </summary>
    public IBrokerLeases Leases { get; }

    /// <summary>The watches of this connection's lease queues (what <see cref="Leases"/> uses); tests call it directly.</summary>
    internal AmqpQueueWatches QueueWatches => queueWatches;

    /// <summary>
    /// The broker's reason (<c>low on memory</c>, <c>low on disk</c>) while it blocks this connection during a resource
    /// alarm, when it reads nothing from it and so answers no call; null otherwise.
    /// </summary>
    public string? BlockedReason => blockedBecause;

    /// <summary>
    /// How long the topology channel waits for the broker's answers; null for the client's own continuation timeout (20 s).
    /// Tests shorten it, so that a call a blocked broker leaves unanswered fails quickly. Applies to the next topology channel.
    /// </summary>
    internal TimeSpan? TopologyContinuationTimeout { get; set; }

    /// <summary>Whether <see cref="DisposeAsync"/> started, so channel closes are ours and not failures.</summary>
    public bool IsDisposing => disposing;

    /// <summary>Takes <paramref name="client"/> into use: watches its end and, when asked, the vhost's topology.</summary>
    /// <param name="client">The open client connection.</param>
    /// <param name="endpoint">Where it goes.</param>
    /// <param name="observeTopology">Whether to listen to the vhost's topology events.</param>
    /// <param name="openPublishing">Opens a connection like <paramref name="client"/> for the publishers (see <see cref="CreatePublishChannelAsync"/>); null keeps them on <paramref name="client"/>.</param>
    /// <param name="cancellationToken">Cancels the set-up.</param>
    public static async Task<AmqpConnection> OpenAsync(IConnection client, AmqpEndpoint endpoint, bool observeTopology, Func<CancellationToken, Task<IConnection>>? openPublishing, CancellationToken cancellationToken)
    {
        var connection = new AmqpConnection(client, endpoint, client.ClientProvidedName ?? "federation", openPublishing);
        client.ConnectionShutdownAsync += connection.OnConnectionShutdownAsync;
        client.ConnectionBlockedAsync += connection.OnConnectionBlockedAsync;
        client.ConnectionUnblockedAsync += connection.OnConnectionUnblockedAsync;
        if (!client.IsOpen && client.CloseReason is { } early)
        {
            connection.OnConnectionShutdown(early);
        }

        try
        {
            // Watching topology costs an exclusive event queue per connection: only when asked, and not disabled in the URI.
            if (observeTopology && endpoint.TopologyEnabled)
            {
                connection.topology = await AmqpTopologySource.StartAsync(connection, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception error) when (error is not OperationCanceledException and not TransportException)
        {
            // Nothing the client threw leaves a connect unmapped: its text can name the user (RabbitMQ's refusals do).
            await connection.DisposeAsync().ConfigureAwait(false);
            throw AmqpErrors.Connect(error, endpoint.DisplayUri, endpoint.Host, endpoint.User, endpoint.Password);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return connection;
    }

    /// <summary>
    /// The broker's <c>max_message_size</c> in bytes as learned from a refusal on this connection (0: none yet). Every
    /// publisher and ledger of the connection checks bodies against it before writing them (see <see cref="AmqpMessageSizeLimit"/>).
    /// </summary>
    public long MaxMessageSize => Interlocked.Read(ref maxMessageSize);

    /// <summary>Keeps a limit the broker stated when it refused a message; the latest statement wins. Any thread.</summary>
    public void LearnMaxMessageSize(long limit) => Interlocked.Exchange(ref maxMessageSize, limit);

    /// <summary>
    /// The connection's user once the broker refused, on this connection, a message whose <c>user_id</c> named another user
    /// (null: no such refusal yet). Every publisher and ledger of the connection then refuses a message claiming anyone else
    /// before writing it (see <see cref="AmqpUserIdImpersonation"/>). RabbitMQ reads the user's tags when the connection
    /// opens, so this holds for the connection's life and a new connection starts without it.
    /// </summary>
    public string? NonImpersonatingUser => nonImpersonatingUser;

    /// <summary>The user the client logged in as, or null when the broker takes it from the client certificate (EXTERNAL).</summary>
    public string? LoginUser => Endpoint.ExternalAuthentication ? null : Endpoint.User;

    /// <summary>Keeps what a <c>user_id</c> refusal showed: <paramref name="user"/> may not publish as anyone else. Any thread.</summary>
    public void LearnNonImpersonatingUser(string user) => nonImpersonatingUser = user;

    /// <summary>
    /// Whether a message with <paramref name="userId"/> must wait for <see cref="ProbeImpersonationAsync"/> before a publisher
    /// or a ledger writes it: it names someone (possibly) other than the connection's user, and whether that user may
    /// impersonate is not known yet.
    /// </summary>
    public bool MustProbeImpersonation(string? userId) =>
        userId is not null
        && nonImpersonatingUser is null
        && !string.Equals(userId, LoginUser, StringComparison.Ordinal)
        && Volatile.Read(ref impersonationProbe) is not { IsCompleted: true };

    /// <summary>
    /// Whether a message with <paramref name="userId"/> claims someone (possibly) other than the connection's user while it
    /// is not known whether the user may: the probe could not tell (see <see cref="ProbeImpersonationAsync"/>). A publisher
    /// without confirms then counts what the broker drops if it closes the channel over it.
    /// </summary>
    public bool ClaimsUnverified(string? userId) =>
        userId is not null
        && nonImpersonatingUser is null
        && !string.Equals(userId, LoginUser, StringComparison.Ordinal)
        && Volatile.Read(ref impersonationProbe) is not { IsCompletedSuccessfully: true, Result: true };

    /// <summary>Makes the probe answer "cannot tell" without asking the broker (tests: a probe the broker did not answer).</summary>
    internal void AssumeImpersonationUnknown() => Volatile.Write(ref impersonationProbe, Task.FromResult<bool?>(null));

    /// <summary>
    /// Asks the broker, once per connection, whether its user may publish as another user (see
    /// <see cref="AmqpImpersonationProbe"/>); callers share the one probe. Never fails: an answer it could not get is null.
    /// </summary>
    public Task<bool?> ProbeImpersonationAsync(string exchange, string routingKey)
    {
        if (Volatile.Read(ref impersonationProbe) is { } running)
        {
            return running;
        }

        var probe = new TaskCompletionSource<bool?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref impersonationProbe, probe.Task, null) is { } other)
        {
            return other;
        }

        _ = Task.Run(async () => probe.TrySetResult(await AmqpImpersonationProbe.RunAsync(this, exchange, routingKey).ConfigureAwait(false)));
        return probe.Task;
    }

    /// <summary>The exception for a call on a closed connection, or <see langword="null"/> while it is open.</summary>
    public ConnectionLostException? ClosedError() =>
        lostBecause is { } lost ? new ConnectionLostException(lost.Message, lost)
        : disposing || !Client.IsOpen ? new ConnectionLostException($"Connection '{Name}' to {DisplayUri} is closed.")
        : null;

    public void ThrowIfClosed()
    {
        if (ClosedError() is { } error)
        {
            throw error;
        }
    }

    /// <summary>Declares the connection lost (for example after a failed no-wait bind) and aborts it.</summary>
    public void Lose(string why)
    {
        var lost = new ConnectionLostException($"Connection '{Name}' to {DisplayUri} was lost: {why}");
        if (Interlocked.CompareExchange(ref lostBecause, lost, null) is null)
        {
            completion.TrySetException(lost);
            AbandonPublishing();

            // Never block a client callback. Disposed by DisposeAsync, as every lost connection is.
            AbortInBackground(Client, dispose: false);
        }
    }

    public ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        AmqpNames.Check(exchange.Name, "exchange");
        if (exchange.Internal)
        {
            // RabbitMQ.Client always sends internal=false; only the management API can declare internal exchanges.
            ThrowIfClosed();
            return new ValueTask(Management.DeclareExchangeAsync(exchange, cancellationToken));
        }

        return RunAsync(
            (channel, ct) => channel.ExchangeDeclareAsync(exchange.Name, exchange.Type, exchange.Durable, exchange.AutoDelete, AmqpHeaders.ToAmqp(exchange.Arguments), passive: false, noWait: false, ct),
            AmqpErrors.Operation.DeclareExchange,
            cancellationToken);
    }

    public async ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "exchange");
        try
        {
            await RunAsync((channel, ct) => channel.ExchangeDeclarePassiveAsync(name, ct), AmqpErrors.Operation.Other, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ResourceNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Through the management API, which answers a missing exchange with 404: a passive declare would close a channel and
    /// make RabbitMQ log a channel error at every link start (one generation of the two is missing then), where the
    /// federation plugin's link starts log none. The upstream's user already needs the API for the internal exchanges.
    /// </summary>
    public ValueTask<bool> ProbeExchangeAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "exchange");
        ThrowIfClosed();
        return Management.ExistsAsync("exchanges", name, cancellationToken);
    }

    /// <summary>Through the management API, as <see cref="ProbeExchangeAsync"/>.</summary>
    public ValueTask<bool> ProbeQueueAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "queue");
        ThrowIfClosed();
        return Management.ExistsAsync("queues", name, cancellationToken);
    }

    public ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "exchange");
        return IgnoreNotFoundAsync(RunAsync((channel, ct) => channel.ExchangeDeleteAsync(name, ifUnused: false, noWait: false, ct), AmqpErrors.Operation.Other, cancellationToken));
    }

    public ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        AmqpNames.Check(queue.Name, "queue");
        return RunAsync(
            (channel, ct) => channel.QueueDeclareAsync(queue.Name, queue.Durable, queue.Exclusive, queue.AutoDelete, AmqpHeaders.ToAmqp(queue.Arguments), passive: false, noWait: false, ct),
            AmqpErrors.Operation.Other,
            cancellationToken);
    }

    public async ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken) =>
        await DeleteQueueCountingDiscardedAsync(name, cancellationToken).ConfigureAwait(false);

    /// <summary>queue.delete, whose reply (delete-ok) carries the number of messages the deletion discarded; 0 for a missing queue.</summary>
    public async ValueTask<long?> DeleteQueueCountingDiscardedAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "queue");
        uint discarded = 0;
        try
        {
            await RunAsync(async (channel, ct) => discarded = await channel.QueueDeleteAsync(name, ifUnused: false, ifEmpty: false, noWait: false, ct).ConfigureAwait(false), AmqpErrors.Operation.Other, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceNotFoundException)
        {
            // Deleting a queue that is already gone is a no-op by contract, and discards nothing.
            return 0;
        }

        return discarded;
    }

    /// <summary>A passive declare, whose reply carries the ready message count; null for a missing queue.</summary>
    public async ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "queue");
        long? count = null;
        try
        {
            await RunAsync(async (channel, ct) => count = (await channel.QueueDeclarePassiveAsync(name, ct).ConfigureAwait(false)).MessageCount, AmqpErrors.Operation.Other, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceNotFoundException)
        {
            return null;
        }

        return count;
    }

    /// <summary>A passive declare, whose reply carries the consumer count; null for a missing queue.</summary>
    public async ValueTask<long?> CountQueueConsumersAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "queue");
        long? count = null;
        try
        {
            await RunAsync(async (channel, ct) => count = (await channel.QueueDeclarePassiveAsync(name, ct).ConfigureAwait(false)).ConsumerCount, AmqpErrors.Operation.Other, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceNotFoundException)
        {
            return null;
        }

        return count;
    }

    public ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binding);
        CheckNames(binding);
        var arguments = AmqpHeaders.ToAmqp(binding.Arguments);
        return RunAsync(
            (channel, ct) =>
            {
                if (noWait)
                {
                    noWaitPending = true;
                }

                return binding.DestinationKind == BindingDestinationKind.Queue
                    ? channel.QueueBindAsync(binding.Destination, binding.Source, binding.RoutingKey, arguments, noWait, ct)
                    : channel.ExchangeBindAsync(binding.Destination, binding.Source, binding.RoutingKey, arguments, noWait, ct);
            },
            AmqpErrors.Operation.Other,
            cancellationToken,
            provesNoWaitSucceeded: !noWait);
    }

    public ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binding);
        CheckNames(binding);
        var arguments = AmqpHeaders.ToAmqp(binding.Arguments);

        // queue.unbind has no nowait flag in AMQP 0-9-1; exchange unbinds honour it.
        var exchangeNoWait = noWait && binding.DestinationKind == BindingDestinationKind.Exchange;
        return IgnoreNotFoundAsync(RunAsync(
            (channel, ct) =>
            {
                if (exchangeNoWait)
                {
                    noWaitPending = true;
                }

                return binding.DestinationKind == BindingDestinationKind.Queue
                    ? channel.QueueUnbindAsync(binding.Destination, binding.Source, binding.RoutingKey, arguments, ct)
                    : channel.ExchangeUnbindAsync(binding.Destination, binding.Source, binding.RoutingKey, arguments, exchangeNoWait, ct);
            },
            AmqpErrors.Operation.Other,
            cancellationToken,
            provesNoWaitSucceeded: !exchangeNoWait));
    }

    public async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfClosed();
        return await AmqpPublisher.OpenAsync(this, options, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        AmqpNames.Check(queue, "queue");
        ThrowIfClosed();
        return await AmqpConsumer.StartAsync(this, queue, options, handler, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        AmqpNames.Check(options.Name, "ledger queue");
        ThrowIfClosed();
        return await AmqpLedger.OpenAsync(this, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The ledger is a queue (see <see cref="AmqpLedger"/>): deleting it deletes its records.</summary>
    public async ValueTask DeleteLedgerAsync(string name, CancellationToken cancellationToken)
    {
        AmqpNames.Check(name, "ledger queue");
        await DeleteQueueAsync(name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a channel, mapping failures.</summary>
    public async Task<IChannel> CreateChannelAsync(CreateChannelOptions? options, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        try
        {
            return await Client.CreateChannelAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (AmqpErrors.Map(error, AmqpErrors.Operation.Other, this) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>
    /// Opens a publisher's channel on the publishing connection, a second connection to the same broker and vhost opened
    /// with the first publisher and again after it closed.
    /// </summary>
    /// <remarks>
    /// Why apart: RabbitMQ.Client can write a publish queued behind a refused one after it has answered the broker's
    /// channel.close (rabbitmq/rabbitmq-dotnet-client#1835), and RabbitMQ then closes the whole connection (504 CHANNEL_ERROR -
    /// expected 'channel.open'). Publishes are refused whenever a downstream exchange is deleted under traffic (404), or a
    /// message is over the broker's size limit or claims another user (406), so on a shared connection one such refusal could
    /// cost every lease, the topology listener and every link's session with it: the engine reconnected and every link
    /// restarted, with other instances free to take their leases meanwhile, and a link whose exchange had been deleted
    /// lost its lease just before its stop. Here the race costs the publishing connection only: the publishers on it fail,
    /// their links start a new session at once, and the next publisher opens a new connection.
    /// </remarks>
    public async Task<IChannel> CreatePublishChannelAsync(CreateChannelOptions? options, CancellationToken cancellationToken)
    {
        if (openPublishing is null)
        {
            return await CreateChannelAsync(options, cancellationToken).ConfigureAwait(false);
        }

        ThrowIfClosed();
        try
        {
            var open = await PublishingAsync(cancellationToken).ConfigureAwait(false);

            // Outside the lock: a broker that answers slowly (a memory alarm blocks this connection) must not make every
            // channel open wait behind the one before it.
            return await open.CreateChannelAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not TransportException && AmqpErrors.Map(error, AmqpErrors.Operation.Other, this) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>The open publishing connection, opened (again) when there is none.</summary>
    private async Task<IConnection> PublishingAsync(CancellationToken cancellationToken)
    {
        if (publishing is { IsOpen: true } current)
        {
            return current;
        }

        await publishingLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (publishing is { IsOpen: true } open)
            {
                return open;
            }

            publishing?.Dispose();
            open = await openPublishing!(cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref publishing, open);
            if (disposing || lostBecause is not null)
            {
                // Closed meanwhile: DisposeAsync may have looked before this one was there.
                await CloseQuietlyAsync(Interlocked.Exchange(ref publishing, null)).ConfigureAwait(false);
                ThrowIfClosed();
            }

            return open;
        }
        finally
        {
            publishingLock.Release();
        }
    }

    private static async Task CloseQuietlyAsync(IConnection? connection)
    {
        if (connection is null)
        {
            return;
        }

        try
        {
            await connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Closing a connection that may have failed already: it is closed either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        connection.Dispose();
    }

    /// <summary>Runs a call on the topology channel (under the topology lock), mapping client failures to SPI exceptions.</summary>
    public async ValueTask RunAsync(Func<IChannel, CancellationToken, Task> operation, AmqpErrors.Operation kind, CancellationToken cancellationToken, bool provesNoWaitSucceeded = true)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfClosed();
        await topologyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        IChannel? channel = null;
        try
        {
            channel = await GetTopologyChannelAsync(cancellationToken).ConfigureAwait(false);

            // RabbitMQ.Client does not end a call that waits for its reply when the token is cancelled: a broker that stopped
            // answering (frozen, black-holed) held it until the continuation timeout (20 s), and with it a link's stop or
            // restart that came during its periodic upstream check. So the wait ends here; the call goes on in the background
            // on a channel given up below, its failure observed.
            var call = operation(channel, cancellationToken);
            try
            {
                await call.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!call.IsCompleted)
            {
                _ = call.ContinueWith(static done => _ = done.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw;
            }

            if (provesNoWaitSucceeded)
            {
                // AMQP processes a channel's methods in order: a reply means every earlier no-wait method succeeded.
                noWaitPending = false;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && channel is not null)
        {
            // The reply may still arrive; a fresh channel keeps later calls from reading it as theirs. Given up in the
            // background: closing it waits for the broker too, up to the continuation timeout when it does not answer.
            _ = DiscardTopologyChannelAsync(channel);
            throw;
        }
        catch (Exception error) when (error is OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested && ClosedError() is null)
        {
            // The client's continuation timeout: the broker did not answer (most often a resource alarm, during which it reads
            // nothing from a blocked connection). Its reply may still come once the alarm clears, so the channel is given up
            // as for a cancellation; its close would wait for the broker as well, so it runs in the background.
            if (channel is not null)
            {
                _ = DiscardTopologyChannelAsync(channel);
            }

            throw Unanswered(error, channel?.ContinuationTimeout);
        }
        catch (Exception error) when (AmqpErrors.Map(error, kind, this) is { } mapped)
        {
            throw mapped;
        }
        finally
        {
            topologyLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (disposing)
        {
            await completion.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            return;
        }

        disposing = true;
        if (topology is not null)
        {
            await topology.StopAsync().ConfigureAwait(false);
        }

        // The publishers' first: their channels close with it, as they would with the connection they came from.
        await CloseQuietlyAsync(Interlocked.Exchange(ref publishing, null)).ConfigureAwait(false);
        try
        {
            await Client.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Closing a connection that already failed may throw anything; it is closed either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        Client.Dispose();
        queueWatches.Dispose();
        Management.Dispose();
        completion.TrySetResult();
    }

    private static void CheckNames(BindingSpec binding)
    {
        AmqpNames.Check(binding.Source, "exchange");
        AmqpNames.Check(binding.Destination, binding.DestinationKind == BindingDestinationKind.Queue ? "queue" : "exchange");
        AmqpNames.Check(binding.RoutingKey, "binding key");
    }

    private static async ValueTask IgnoreNotFoundAsync(ValueTask operation)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (ResourceNotFoundException)
        {
            // Deleting or unbinding something that is already gone is a no-op by contract.
        }
    }

    private async Task<IChannel> GetTopologyChannelAsync(CancellationToken cancellationToken)
    {
        if (topologyChannel is { IsOpen: true } open)
        {
            return open;
        }

        if (topologyChannel is { } closed)
        {
            closed.Dispose();
        }

        noWaitPending = false;
        var channel = await CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
        if (TopologyContinuationTimeout is { } timeout)
        {
            channel.ContinuationTimeout = timeout;
        }

        channel.ChannelShutdownAsync += OnTopologyChannelShutdownAsync;
        topologyChannel = channel;
        return channel;
    }

    private async Task DiscardTopologyChannelAsync(IChannel channel)
    {
        topologyChannel = null;
        channel.ChannelShutdownAsync -= OnTopologyChannelShutdownAsync;
        try
        {
            await channel.AbortAsync(CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The channel is being thrown away.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        channel.Dispose();
    }

    private Task OnTopologyChannelShutdownAsync(object sender, ShutdownEventArgs reason)
    {
        // A no-wait bind that failed closes the channel with nobody waiting for an answer: the engine only learns about
        // it through a lost connection, as IBrokerConnection.BindAsync documents.
        if (noWaitPending && reason.Initiator == ShutdownInitiator.Peer && !disposing)
        {
            // A 403 names the user: scrubbed, as every broker text is before it reaches status or logs.
            Lose($"a no-wait binding command failed: {reason.ReplyCode} {AmqpErrors.Scrub(reason.ReplyText, Endpoint.User, Endpoint.Password)}");
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// A call the broker left unanswered past the continuation timeout, as a transport failure naming the cause: the
    /// client's own exception says only "A task was canceled.", which is all an operator saw in the link's error.
    /// </summary>
    private TransportException Unanswered(Exception error, TimeSpan? timeout)
    {
        var waited = timeout is { } t ? $" within {t.TotalSeconds:0.#} s" : " in time";
        var cause = blockedBecause is { } reason
            ? $": it blocks this connection ({AmqpErrors.Scrub(reason, Endpoint.User, Endpoint.Password)}), a memory or disk alarm during which it answers nothing until the alarm clears"
            : "";
        return new TransportException(
            $"The broker at {DisplayUri} did not answer on connection '{Name}'{waited}{cause}",
            AmqpErrors.SafeInner(error, Endpoint.User, Endpoint.Password));
    }

    private Task OnConnectionBlockedAsync(object sender, ConnectionBlockedEventArgs args)
    {
        blockedBecause = string.IsNullOrEmpty(args.Reason) ? "no reason given" : args.Reason;
        return Task.CompletedTask;
    }

    private Task OnConnectionUnblockedAsync(object sender, AsyncEventArgs args)
    {
        blockedBecause = null;
        return Task.CompletedTask;
    }

    private Task OnConnectionShutdownAsync(object sender, ShutdownEventArgs reason)
    {
        OnConnectionShutdown(reason);
        return Task.CompletedTask;
    }

    private void OnConnectionShutdown(ShutdownEventArgs reason)
    {
        if (disposing && reason.Initiator == ShutdownInitiator.Application)
        {
            completion.TrySetResult();
            return;
        }

        var lost = new ConnectionLostException($"Connection '{Name}' to {DisplayUri} was closed by the {(reason.Initiator == ShutdownInitiator.Peer ? "broker" : "client library")}: {reason.ReplyCode} {AmqpErrors.Scrub(reason.ReplyText, Endpoint.User, Endpoint.Password)}");
        if (Interlocked.CompareExchange(ref lostBecause, lost, null) is null)
        {
            completion.TrySetException(lost);
            AbandonPublishing();
        }
    }

    /// <summary>
    /// Aborts the publishing connection in the background once this one is lost: what its publishers still write belongs
    /// to a connection the engine has given up, as when they shared it. Never blocks a client callback.
    /// </summary>
    private void AbandonPublishing()
    {
        if (Interlocked.Exchange(ref publishing, null) is { } abandoned)
        {
            AbortInBackground(abandoned, dispose: true);
        }
    }

    /// <summary>Aborts <paramref name="connection"/> on the thread pool, and disposes it after when asked.</summary>
    private static void AbortInBackground(IConnection connection, bool dispose) =>
        _ = Task.Run(async () =>
        {
            try
            {
                await connection.AbortAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Aborting a connection that is already failing may throw anything; it is gone either way.
            catch (Exception)
#pragma warning restore CA1031
            {
            }

            if (dispose)
            {
                connection.Dispose();
            }
        });
}
