using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>A connection to one virtual host of an <see cref="InMemoryBroker"/>. Every operation completes synchronously.</summary>
internal sealed class InMemoryConnection : IBrokerConnection
{
    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool closed;
    private ConnectionLostException? lostBecause;

    public InMemoryConnection(InMemoryBroker broker, BrokerVirtualHost host, string name, string displayUri)
    {
        Broker = broker;
        Host = host;
        Name = name;
        DisplayUri = displayUri;
        ClusterName = broker.ClusterName;
        Topology = new InMemoryTopologySource(this);
        Leases = new ExclusiveQueueLeases(this, (queue, _) => ValueTask.FromResult(Host.GetQueue(queue)?.Arguments), WatchQueueAsync);
    }

    public string? ClusterName { get; }

    public string VirtualHost => Host.Name;

    public string DisplayUri { get; }

    public Task Completion => completion.Task;

    public ITopologySource Topology { get; }

    /// <summary>Exclusive queues, as on RabbitMQ; unlike there, the holder of a locked one can always be read.</summary>
    public IBrokerLeases Leases { get; }

    public string Name { get; }

    public InMemoryBroker Broker { get; }

    public BrokerVirtualHost Host { get; }

    /// <summary>Open consumers; guarded by the virtual host lock.</summary>
    public HashSet<InMemoryConsumer> Consumers { get; } = [];

    /// <summary>Exclusive queues this connection declared; guarded by the virtual host lock.</summary>
    public List<BrokerQueue> OwnedQueues { get; } = [];

    /// <summary>Topology subscriptions made through this connection; guarded by the virtual host lock.</summary>
    public List<TopologySubscription> Subscriptions { get; } = [];

    public bool IsClosed => closed;

    public void ThrowIfClosed()
    {
        if (closed)
        {
            throw CreateClosedException();
        }
    }

    public ConnectionLostException CreateClosedException() =>
        new($"Connection '{Name}' to {DisplayUri} is closed{(lostBecause is null ? "." : ": " + lostBecause.Message)}", lostBecause);

    /// <summary>Closes the connection; with <paramref name="lostBecause"/> it counts as lost and <see cref="Completion"/> faults.</summary>
    /// <returns>The consumers that were stopped, so a graceful close can wait for their handlers.</returns>
    public IReadOnlyList<InMemoryConsumer> Close(ConnectionLostException? lostBecause)
    {
        InMemoryConsumer[] stopped;
        lock (Host.Sync)
        {
            if (closed)
            {
                return [];
            }

            this.lostBecause = lostBecause;
            closed = true;
            stopped = [.. Consumers];
            Host.CloseConnectionCore(this, lostBecause);
        }

        Broker.Unregister(this);
        if (lostBecause is null)
        {
            completion.TrySetResult();
        }
        else
        {
            completion.TrySetException(lostBecause);
        }

        return stopped;
    }

    public ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken) =>
        Run(exchange, static (connection, spec) => connection.Host.DeclareExchange(spec), cancellationToken);

    public ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken) =>
        Run(name, static (connection, exchange) => connection.Host.ExchangeExists(exchange), cancellationToken);

    public ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken) =>
        Run(name, static (connection, exchange) => connection.Host.DeleteExchange(exchange), cancellationToken);

    public ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken) =>
        Run(queue, static (connection, spec) => connection.Host.DeclareQueue(spec, connection), cancellationToken);

    public ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken) =>
        Run(name, static (connection, queue) => { connection.Host.DeleteQueue(queue, connection); }, cancellationToken);

    public ValueTask<long?> DeleteQueueCountingDiscardedAsync(string name, CancellationToken cancellationToken) =>
        Run(name, static (connection, queue) => (long?)connection.Host.DeleteQueue(queue, connection), cancellationToken);

    public ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken) =>
        Run(name, static (connection, queue) => connection.Host.GetQueue(queue) is null ? (long?)null : connection.Host.GetMessageCount(queue), cancellationToken);

    public ValueTask<long?> CountQueueConsumersAsync(string name, CancellationToken cancellationToken) =>
        Run(name, static (connection, queue) => (long?)connection.Host.GetConsumerCount(queue), cancellationToken);

    public ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
    {
        var result = Run(binding, static (connection, spec) => connection.Host.Bind(spec), cancellationToken);
        if (!noWait || !result.IsFaulted)
        {
            return result;
        }

        // Without waiting for the reply, AMQP reports a failed bind by closing the channel; the engine sees a lost connection.
        var error = result.AsTask().Exception!.InnerException!;
        Close(new ConnectionLostException($"Connection '{Name}' to {DisplayUri} was closed by the broker after a failed no-wait bind: {error.Message}", error));
        return ValueTask.CompletedTask;
    }

    public ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken) =>
        Run(binding, static (connection, spec) => connection.Host.Unbind(spec), cancellationToken);

    public ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken) =>
        Run(options, static IMessagePublisher (connection, publisherOptions) => new InMemoryPublisher(connection, publisherOptions), cancellationToken);

    public ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
        Run((queue, options, handler), static IMessageConsumer (connection, request) => connection.Host.Consume(request.queue, request.options, request.handler, connection), cancellationToken);

    /// <summary>Watches a queue for its deletion, as a consumer that the broker cancels when the queue goes.</summary>
    public ValueTask<IQueueWatch> WatchQueueAsync(string queue, CancellationToken cancellationToken) =>
        Run(queue, static IQueueWatch (connection, name) => connection.Host.WatchQueue(name, connection), cancellationToken);

    public ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) =>
        Run(options, static IDeliveryLedger? (connection, ledgerOptions) => InMemoryLedger.Open(connection, ledgerOptions), cancellationToken);

    public ValueTask DeleteLedgerAsync(string name, CancellationToken cancellationToken) =>
        Run(name, static (connection, ledger) =>
        {
            lock (connection.Host.Sync)
            {
                connection.Host.Ledgers.Remove(ledger);
            }
        }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var consumer in Close(lostBecause: null))
        {
            await consumer.WhenStoppedAsync().ConfigureAwait(false);
        }
    }

    private ValueTask Run<TArgument>(TArgument argument, Action<InMemoryConnection, TArgument> operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        try
        {
            ThrowIfClosed();
            operation(this, argument);
            return ValueTask.CompletedTask;
        }
        catch (Exception error) when (error is TransportException or ArgumentException)
        {
            return ValueTask.FromException(error);
        }
    }

    private ValueTask<TResult> Run<TArgument, TResult>(TArgument argument, Func<InMemoryConnection, TArgument, TResult> operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResult>(cancellationToken);
        }

        try
        {
            ThrowIfClosed();
            return ValueTask.FromResult(operation(this, argument));
        }
        catch (Exception error) when (error is TransportException or ArgumentException)
        {
            return ValueTask.FromException<TResult>(error);
        }
    }
}
