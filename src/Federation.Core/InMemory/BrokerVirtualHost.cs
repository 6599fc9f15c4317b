using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// One virtual host: its exchanges, queues, bindings and topology events. A single lock (<see cref="Sync"/>) guards all of it,
/// including the queues and consumers, which keeps routing, acks and topology changes trivially consistent.
/// Nothing here calls user code under the lock: deliveries and topology events go through channels drained by background tasks.
/// </summary>
internal sealed class BrokerVirtualHost(InMemoryBroker broker, string name)
{
    private readonly Dictionary<string, BrokerExchange> exchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BrokerQueue> queues = new(StringComparer.Ordinal);
    private readonly List<TopologySubscription> subscriptions = [];
    private readonly RoutingTargets routingTargets = new();
    private long serial;

    public Lock Sync { get; } = new();

    /// <summary>Delivery ledgers by name, records oldest first; durable (kept across <see cref="InMemoryBroker.Stop"/>). Guarded by <see cref="Sync"/>.</summary>
    public Dictionary<string, InMemoryLedgerRecords> Ledgers { get; } = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public InMemoryBroker Broker { get; } = broker;

    public void DeclareExchange(ExchangeSpec spec)
    {
        RejectDefaultExchange(spec.Name, "declare");
        RejectLongName(spec.Name, "exchange");
        lock (Sync)
        {
            if (exchanges.TryGetValue(spec.Name, out var existing))
            {
                if (!SameDeclaration(existing.Spec, spec))
                {
                    throw new PreconditionFailedException($"PRECONDITION_FAILED - inequivalent arguments for exchange '{spec.Name}' in vhost '{Name}': declared as {Describe(existing.Spec)}, redeclared as {Describe(spec)}.");
                }

                return;
            }

            var exchange = BrokerExchange.Create(spec with { Arguments = Copy(spec.Arguments) }, Broker.SupportsFederationExchangeType);
            exchanges.Add(spec.Name, exchange);
            Emit(TopologyChangeKind.ExchangeDeclared, exchange.Spec, binding: null);
        }
    }

    public bool ExchangeExists(string exchange)
    {
        lock (Sync)
        {
            return exchange.Length == 0 || exchanges.ContainsKey(exchange);
        }
    }

    public ExchangeSpec? GetExchange(string exchange)
    {
        lock (Sync)
        {
            return exchange.Length == 0 ? new ExchangeSpec(string.Empty, ExchangeSpec.Types.Direct)
                : exchanges.TryGetValue(exchange, out var found) ? found.Spec : null;
        }
    }

    public IReadOnlyList<string> GetExchangeNames()
    {
        lock (Sync)
        {
            return [.. exchanges.Keys];
        }
    }

    public void DeleteExchange(string exchange)
    {
        RejectDefaultExchange(exchange, "delete");
        lock (Sync)
        {
            if (exchanges.TryGetValue(exchange, out var found))
            {
                DeleteExchangeCore(found);
            }
        }
    }

    public void DeclareQueue(QueueSpec spec, InMemoryConnection connection)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec.Name, nameof(spec));
        RejectLongName(spec.Name, "queue");
        var arguments = QueueArguments.Parse(spec);
        lock (Sync)
        {
            connection.ThrowIfClosed();
            if (queues.TryGetValue(spec.Name, out var existing))
            {
                ThrowIfLockedByAnotherConnection(existing, connection);
                if (!SameDeclaration(existing.Spec, spec))
                {
                    throw new PreconditionFailedException($"PRECONDITION_FAILED - inequivalent arguments for queue '{spec.Name}' in vhost '{Name}'.");
                }

                existing.MarkUsed();
                return;
            }

            var queue = new BrokerQueue(this, spec with { Arguments = Copy(spec.Arguments) }, arguments, spec.Exclusive ? connection : null, Broker.TimeProvider);
            queues.Add(spec.Name, queue);
            if (spec.Exclusive)
            {
                connection.OwnedQueues.Add(queue);
            }
        }
    }

    public bool QueueExists(string queue)
    {
        lock (Sync)
        {
            return queues.ContainsKey(queue);
        }
    }

    public QueueSpec? GetQueue(string queue)
    {
        lock (Sync)
        {
            return queues.TryGetValue(queue, out var found) ? found.Spec : null;
        }
    }

    public int GetMessageCount(string queue)
    {
        lock (Sync)
        {
            return queues.TryGetValue(queue, out var found) ? found.ReadyCount : 0;
        }
    }

    /// <summary>How many consumers the queue has, or null when it does not exist.</summary>
    public int? GetConsumerCount(string queue)
    {
        lock (Sync)
        {
            return queues.TryGetValue(queue, out var found) ? found.Consumers.Count : null;
        }
    }

    public IReadOnlyList<string> GetQueueNames()
    {
        lock (Sync)
        {
            return [.. queues.Keys];
        }
    }

    /// <summary>Deletes the queue with its ready messages; returns how many those were (0 for a missing queue), as AMQP's delete-ok does.</summary>
    /// <param name="queue">The queue's name.</param>
    /// <param name="connection">
    /// The connection that asks, or null for the broker's own tools (<c>rabbitmqctl delete_queue</c>, the management API),
    /// which may delete any queue. A connection may not delete another connection's exclusive queue, as on RabbitMQ.
    /// </param>
    /// <exception cref="ResourceLockedException">The queue is another connection's exclusive queue.</exception>
    public int DeleteQueue(string queue, InMemoryConnection? connection = null)
    {
        lock (Sync)
        {
            if (!queues.TryGetValue(queue, out var found))
            {
                return 0;
            }

            if (connection is not null)
            {
                ThrowIfLockedByAnotherConnection(found, connection);
            }

            var discarded = found.ReadyCount;
            DeleteQueueCore(found);
            return discarded;
        }
    }

    /// <summary>Starts watching a queue for its deletion (see <see cref="InMemoryQueueWatch"/>).</summary>
    /// <exception cref="ResourceNotFoundException">The queue does not exist.</exception>
    public InMemoryQueueWatch WatchQueue(string queue, InMemoryConnection connection)
    {
        lock (Sync)
        {
            connection.ThrowIfClosed();
            var found = queues.GetValueOrDefault(queue) ?? throw NotFound("queue", queue);
            ThrowIfLockedByAnotherConnection(found, connection);
            var watch = new InMemoryQueueWatch(this, found);
            found.Watches.Add(watch);
            return watch;
        }
    }

    public void DeleteQueueIfExpired(BrokerQueue queue)
    {
        lock (Sync)
        {
            if (queue.HasExpired())
            {
                DeleteQueueCore(queue);
            }
            else
            {
                queue.RearmExpiry();
            }
        }
    }

    public void Bind(BindingSpec spec)
    {
        RejectDefaultExchange(spec.Source, "bind from");
        if (spec.DestinationKind == BindingDestinationKind.Exchange)
        {
            RejectDefaultExchange(spec.Destination, "bind to");
        }

        lock (Sync)
        {
            var source = exchanges.GetValueOrDefault(spec.Source) ?? throw NotFound("exchange", spec.Source);
            if (source.TryGetBinding(spec, out _))
            {
                return;
            }

            var binding = spec.DestinationKind == BindingDestinationKind.Queue
                ? new BrokerBinding(spec with { Arguments = Copy(spec.Arguments) }, source, queues.GetValueOrDefault(spec.Destination) ?? throw NotFound("queue", spec.Destination), exchange: null)
                : new BrokerBinding(spec with { Arguments = Copy(spec.Arguments) }, source, queue: null, exchanges.GetValueOrDefault(spec.Destination) ?? throw NotFound("exchange", spec.Destination));
            source.AddBinding(binding);
            (binding.Queue?.IncomingBindings ?? binding.Exchange!.IncomingBindings).Add(binding);
            Emit(TopologyChangeKind.BindingAdded, exchange: null, binding.Spec);
        }
    }

    public void Unbind(BindingSpec spec)
    {
        lock (Sync)
        {
            if (exchanges.TryGetValue(spec.Source, out var source) && source.TryGetBinding(spec, out var binding))
            {
                RemoveBindingCore(binding);
            }
        }
    }

    public IReadOnlyList<BindingSpec> GetBindings(string sourceExchange)
    {
        lock (Sync)
        {
            return exchanges.TryGetValue(sourceExchange, out var source) ? [.. source.Bindings.Select(b => b.Spec)] : [];
        }
    }

    /// <summary>Routes and enqueues one message. The caller's properties are only read here; queues get a private copy.</summary>
    public void Publish(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, InMemoryConnection publisher)
    {
        lock (Sync)
        {
            publisher.ThrowIfClosed();
            if (exchange.Length == 0)
            {
                if (queues.TryGetValue(routingKey, out var queue))
                {
                    queue.Enqueue(Store(exchange, routingKey, properties, body));
                }

                return;
            }

            var source = exchanges.GetValueOrDefault(exchange) ?? throw NotFound("exchange", exchange);
            if (source.Spec.Internal)
            {
                throw new TransportException($"ACCESS_REFUSED - cannot publish to internal exchange '{exchange}' in vhost '{Name}'.");
            }

            routingTargets.Start(source);
            while (routingTargets.TryTakeNextExchange(out var next))
            {
                next.Route(routingKey, properties, routingTargets);
            }

            if (routingTargets.Queues.Count == 0)
            {
                return;
            }

            var message = Store(exchange, routingKey, properties, body);
            foreach (var queue in routingTargets.Queues)
            {
                queue.Enqueue(message);
            }
        }
    }

    public InMemoryConsumer Consume(string queue, ConsumerOptions options, DeliveryHandler handler, InMemoryConnection connection)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.Prefetch, nameof(options));
        lock (Sync)
        {
            connection.ThrowIfClosed();
            var found = queues.GetValueOrDefault(queue) ?? throw NotFound("queue", queue);
            ThrowIfLockedByAnotherConnection(found, connection);
            var consumer = new InMemoryConsumer(this, found, connection, options, handler);
            connection.Consumers.Add(consumer);
            found.AddConsumer(consumer);
            return consumer;
        }
    }

    /// <summary>Stops a consumer and returns its unacknowledged messages to the queue. Call under <see cref="Sync"/>.</summary>
    public void RemoveConsumerCore(InMemoryConsumer consumer, Exception? reason)
    {
        var queue = consumer.Queue;
        var unacked = consumer.Detach(reason);
        consumer.Connection.Consumers.Remove(consumer);
        if (queue.IsDeleted)
        {
            return;
        }

        queue.Requeue(unacked);
        if (queue.RemoveConsumer(consumer))
        {
            DeleteQueueCore(queue);
        }
        else
        {
            queue.Dispatch();
        }
    }

    /// <summary>Releases everything a closing connection holds. Call under <see cref="Sync"/>.</summary>
    public void CloseConnectionCore(InMemoryConnection connection, Exception? fault)
    {
        foreach (var consumer in connection.Consumers.ToArray())
        {
            RemoveConsumerCore(consumer, fault);
        }

        foreach (var queue in connection.OwnedQueues.ToArray())
        {
            DeleteQueueCore(queue);
        }

        foreach (var subscription in connection.Subscriptions)
        {
            subscriptions.Remove(subscription);
            subscription.Complete();
        }

        connection.Subscriptions.Clear();
    }

    public TopologySubscription Subscribe(Action<TopologyChange> onChange, InMemoryConnection connection)
    {
        lock (Sync)
        {
            connection.ThrowIfClosed();
            var subscription = new TopologySubscription(this, connection, onChange);
            subscriptions.Add(subscription);
            connection.Subscriptions.Add(subscription);
            return subscription;
        }
    }

    public void Unsubscribe(TopologySubscription subscription)
    {
        lock (Sync)
        {
            subscriptions.Remove(subscription);
            subscription.Connection.Subscriptions.Remove(subscription);
            subscription.Complete();
        }
    }

    public TopologySnapshot GetSnapshot()
    {
        lock (Sync)
        {
            return new TopologySnapshot(
                serial,
                [.. exchanges.Values.Select(e => e.Spec)],
                [.. exchanges.Values.SelectMany(e => e.Bindings).Select(b => b.Spec)]);
        }
    }

    private StoredMessage Store(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body) =>
        new(exchange, routingKey, MessagePropertiesCopier.DeepClone(properties), body.ToArray(), Broker.TimeProvider.GetUtcNow());

    private void DeleteExchangeCore(BrokerExchange exchange)
    {
        // Unregister first, so that removing its own bindings cannot auto-delete it a second time.
        exchanges.Remove(exchange.Spec.Name);
        while (exchange.Bindings.Count > 0)
        {
            RemoveBindingCore(exchange.Bindings[^1]);
        }

        while (exchange.IncomingBindings.Count > 0)
        {
            RemoveBindingCore(exchange.IncomingBindings[^1]);
        }

        Emit(TopologyChangeKind.ExchangeDeleted, exchange.Spec, binding: null);
    }

    private void DeleteQueueCore(BrokerQueue queue)
    {
        queues.Remove(queue.Spec.Name);
        while (queue.IncomingBindings.Count > 0)
        {
            RemoveBindingCore(queue.IncomingBindings[^1]);
        }

        var cancelledBecause = new TransportException($"The consumer was cancelled by the broker: queue '{queue.Spec.Name}' in vhost '{Name}' was deleted.");
        foreach (var consumer in queue.MarkDeleted())
        {
            consumer.Connection.Consumers.Remove(consumer);
            consumer.Detach(cancelledBecause);
        }

        queue.Owner?.OwnedQueues.Remove(queue);
    }

    private void RemoveBindingCore(BrokerBinding binding)
    {
        var source = binding.Source;
        source.RemoveBinding(binding);
        (binding.Queue?.IncomingBindings ?? binding.Exchange!.IncomingBindings).Remove(binding);
        Emit(TopologyChangeKind.BindingRemoved, exchange: null, binding.Spec);
        if (source.Spec.AutoDelete && source.Bindings.Count == 0 && exchanges.GetValueOrDefault(source.Spec.Name) == source)
        {
            DeleteExchangeCore(source);
        }
    }

    private void Emit(TopologyChangeKind kind, ExchangeSpec? exchange, BindingSpec? binding)
    {
        serial++;
        if (subscriptions.Count == 0)
        {
            return;
        }

        var change = new TopologyChange(serial, kind, exchange, binding);
        foreach (var subscription in subscriptions)
        {
            subscription.Post(change);
        }
    }

    private void ThrowIfLockedByAnotherConnection(BrokerQueue queue, InMemoryConnection connection)
    {
        if (queue.Owner is not null && queue.Owner != connection)
        {
            throw new ResourceLockedException($"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{queue.Spec.Name}' in vhost '{Name}'.");
        }
    }

    private void RejectDefaultExchange(string exchange, string operation)
    {
        if (exchange.Length == 0)
        {
            throw new TransportException($"ACCESS_REFUSED - operation not permitted on the default exchange: cannot {operation} it (vhost '{Name}').");
        }
    }

    /// <summary>
    /// RabbitMQ's clients cannot send a name over 255 bytes of UTF-8 (an AMQP short string), so no such object exists
    /// there; the in-memory broker refuses it too, so that what runs here runs on RabbitMQ.
    /// </summary>
    public static void RejectLongName(string name, string kind)
    {
        const int MaxBytes = 255;
        var bytes = System.Text.Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxBytes)
        {
            throw new NameTooLongException($"The {kind} name '{name}' is {bytes} bytes of UTF-8, over AMQP's limit of {MaxBytes} bytes for a name.", name, MaxBytes);
        }
    }

    private ResourceNotFoundException NotFound(string kind, string resource) => new($"NOT_FOUND - no {kind} '{resource}' in vhost '{Name}'.");

    private static bool SameDeclaration(ExchangeSpec existing, ExchangeSpec requested) =>
        existing.Type == requested.Type
        && existing.Durable == requested.Durable
        && existing.AutoDelete == requested.AutoDelete
        && existing.Internal == requested.Internal
        && HeaderValueComparer.Instance.Equals(existing.Arguments, requested.Arguments);

    private static bool SameDeclaration(QueueSpec existing, QueueSpec requested) =>
        existing.Durable == requested.Durable
        && existing.Exclusive == requested.Exclusive
        && existing.AutoDelete == requested.AutoDelete
        && HeaderValueComparer.Instance.Equals(existing.Arguments, requested.Arguments);

    private static string Describe(ExchangeSpec spec) =>
        $"type={spec.Type} durable={spec.Durable} auto_delete={spec.AutoDelete} internal={spec.Internal} arguments={spec.Arguments?.Count ?? 0}";

    private static Dictionary<string, object?>? Copy(IReadOnlyDictionary<string, object?>? arguments) =>
        arguments is null ? null : new Dictionary<string, object?>(arguments, StringComparer.Ordinal);
}
