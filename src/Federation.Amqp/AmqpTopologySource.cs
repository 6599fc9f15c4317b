using Federation.Core.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// Observes a vhost's exchanges and bindings: live changes from the rabbitmq_event_exchange plugin (an exclusive,
/// server-named queue bound to <c>amq.rabbitmq.event</c>, consumed from the moment the connection opens) and snapshots from
/// the management API. Serials are assigned in receipt order. Before reading a snapshot, a marker binding is created and
/// its event awaited: the broker emits events in order, so every change made before the snapshot request has then been
/// received and numbered, and the snapshot's serial is the last serial received before the read.
/// </summary>
/// <remarks>
/// A change made while the snapshot is being read may appear both in the snapshot and as a later change; consumers apply
/// changes idempotently. RabbitMQ emits <c>exchange.deleted</c> before the <c>binding.deleted</c> events of that exchange's
/// bindings; this source holds the deletion until a marker proves those removals arrived, and reports it after them, or
/// before the exchange's next <c>exchange.created</c> when one comes first (an exchange deleted and declared again at once). The event exchange lives in the vhost configured by <c>rabbitmq_event_exchange.vhost</c> (default
/// <c>/</c>); this source listens in the connection's vhost and filters events by their <c>vhost</c> header.
/// </remarks>
#pragma warning disable CA1001 // The SemaphoreSlim never allocates its wait handle, so there is nothing to dispose; the source lives as long as its connection.
internal sealed class AmqpTopologySource : ITopologySource
#pragma warning restore CA1001
{
    private const string EventExchange = "amq.rabbitmq.event";
    private const string MarkerPrefix = "federation.marker.";
    private static readonly string[] EventKeys = ["exchange.created", "exchange.deleted", "binding.created", "binding.deleted"];

    private readonly AmqpConnection connection;
    private readonly object sync = new();
    private readonly List<Action<TopologyChange>> subscribers = [];
    private readonly Dictionary<string, ExchangeSpec> knownExchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource> markers = new(StringComparer.Ordinal);

    // exchange.deleted events waiting for the next marker; see OnEvent.
    private readonly List<Dictionary<string, object?>> heldDeletions = [];
    private readonly SemaphoreSlim snapshotLock = new(1, 1);
    private IConnection? eventConnection;
    private IChannel? channel;
    private bool stopping;
    private string? queue;
    private string? unavailable;
    private long serial;

    private AmqpTopologySource(AmqpConnection connection) => this.connection = connection;

    public static async Task<AmqpTopologySource> StartAsync(AmqpConnection connection, CancellationToken cancellationToken)
    {
        var source = new AmqpTopologySource(connection);
        var endpoint = connection.Endpoint;
        try
        {
            IChannel channel;
            if (endpoint.EventVirtualHost == endpoint.VirtualHost)
            {
                channel = await connection.CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // amq.rabbitmq.event lives in one vhost per broker; its events carry the vhost they are about.
                var eventConnectionName = connection.Name + " (topology events)";
                var factory = AmqpTransport.CreateFactory(endpoint, endpoint.EventVirtualHost, eventConnectionName);
                source.eventConnection = await AmqpTransport.ConnectWithinDeadlineAsync(factory, endpoint, eventConnectionName, cancellationToken).ConfigureAwait(false);
                channel = await source.eventConnection.CreateChannelAsync(null, cancellationToken).ConfigureAwait(false);
            }

            source.channel = channel;
            var declared = await channel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            source.queue = declared.QueueName;
            foreach (var key in EventKeys)
            {
                await channel.QueueBindAsync(declared.QueueName, EventExchange, key, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                source.OnEvent(delivery.RoutingKey, delivery.BasicProperties.Headers);
                return Task.CompletedTask;
            };
            consumer.UnregisteredAsync += (_, _) => source.OnEventsLostAsync(channel, new ShutdownEventArgs(ShutdownInitiator.Peer, 0, "the event queue consumer was cancelled"));
            await channel.BasicConsumeAsync(declared.QueueName, autoAck: true, consumer, cancellationToken).ConfigureAwait(false);

            // Losses are watched once the listener stands. A refusal while it is set up (the event vhost's 530 NOT_ALLOWED
            // arrives as a close of the event connection) is the "unavailable" case below, not a loss of the connection:
            // as a loss it failed the whole connect with the client's raw text, which names the user.
            channel.ChannelShutdownAsync += source.OnEventsLostAsync;
            if (source.eventConnection is { } events)
            {
                events.ConnectionShutdownAsync += source.OnEventsLostAsync;
            }

            if (!channel.IsOpen || source.eventConnection is { IsOpen: false })
            {
                throw new TransportException("the topology event listener closed while it was set up");
            }
        }
        catch (Exception error) when (error is not OperationCanceledException && connection.ClosedError() is null)
        {
            // Upstream-only connections work without topology: a missing plugin, a missing event vhost or missing
            // permissions must not fail the connect. Using this source then fails with this explanation.
            var reason = AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is ResourceNotFoundException
                ? $"the exchange '{EventExchange}' does not exist in vhost '{endpoint.EventVirtualHost}': enable the rabbitmq_event_exchange plugin (and set the URI parameter event-vhost if rabbitmq_event_exchange.vhost is not '/')"
                : $"listening to '{EventExchange}' in vhost '{endpoint.EventVirtualHost}' failed ({AmqpErrors.Scrub(error.Message, endpoint.User, endpoint.Password)}); the user needs read and configure permissions there";
            source.unavailable = $"Federation cannot observe the exchanges and bindings of {connection.DisplayUri}: {reason}. Add topology=none to the URI of upstream-only connections.";
            await source.StopAsync().ConfigureAwait(false);
        }

        return source;
    }

    public IDisposable Subscribe(Action<TopologyChange> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        lock (sync)
        {
            subscribers.Add(onChange);
        }

        return new Subscription(this, onChange);
    }

    public async ValueTask<TopologySnapshot> GetSnapshotAsync(CancellationToken cancellationToken)
    {
        connection.ThrowIfClosed();
        if (unavailable is not null || channel is null || queue is null)
        {
            throw new TransportException(unavailable ?? "The topology source is stopped.");
        }

        await snapshotLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await BarrierAsync(cancellationToken).ConfigureAwait(false);

            long snapshotSerial;
            lock (sync)
            {
                snapshotSerial = serial;
            }

            var (exchanges, bindings) = await connection.Management.ReadTopologyAsync(cancellationToken).ConfigureAwait(false);
            lock (sync)
            {
                foreach (var exchange in exchanges)
                {
                    knownExchanges[exchange.Name] = exchange;
                }
            }

            return new TopologySnapshot(snapshotSerial, exchanges, bindings);
        }
        finally
        {
            snapshotLock.Release();
        }
    }

    /// <summary>
    /// Creates a marker binding and waits for its event. The broker emits events in order, so once it arrived every
    /// change made before the call has been received and numbered. Callers hold <see cref="snapshotLock"/>.
    /// </summary>
    private async Task BarrierAsync(CancellationToken cancellationToken)
    {
        if (channel is not { } current || queue is null)
        {
            throw new TransportException(unavailable ?? "The topology source is stopped.");
        }

        var marker = MarkerPrefix + Guid.NewGuid().ToString("N");
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (sync)
        {
            markers[marker] = seen;
        }

        try
        {
            await current.QueueBindAsync(queue, EventExchange, marker, cancellationToken: cancellationToken).ConfigureAwait(false);
            await seen.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            await current.QueueUnbindAsync(queue, EventExchange, marker, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (AmqpErrors.Map(error, AmqpErrors.Operation.Other, connection) is { } mapped)
        {
            throw mapped;
        }
        catch (TimeoutException error)
        {
            throw new TransportException($"No event from '{EventExchange}' on {connection.DisplayUri} arrived within 30 s; is the rabbitmq_event_exchange plugin enabled?", error);
        }
        finally
        {
            lock (sync)
            {
                markers.Remove(marker);
            }
        }
    }

    /// <summary>Releases held exchange deletions after a barrier, so they are numbered after their bindings' removals.</summary>
    private async Task FlushHeldDeletionsAsync()
    {
        try
        {
            await snapshotLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await BarrierAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                snapshotLock.Release();
            }
        }
#pragma warning disable CA1031 // Background barrier: a failure means the connection is going away, and the engine resynchronises after a reconnect.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Stops notifications and closes the event channel (and the event connection, when it has one).</summary>
    public async ValueTask StopAsync()
    {
        lock (sync)
        {
            stopping = true;
            subscribers.Clear();
        }

        try
        {
            if (eventConnection is { } own)
            {
                await own.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                own.Dispose();
            }
            else if (channel is { IsOpen: true } open)
            {
                await open.CloseAsync().ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // Closing after a failure may throw anything; the channel is gone either way.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        channel?.Dispose();
        channel = null;
    }

    private Task OnEventsLostAsync(object sender, ShutdownEventArgs reason)
    {
        // Without events the engine would silently miss binding changes: losing the connection makes it resynchronise.
        bool stopped;
        lock (sync)
        {
            stopped = stopping;
        }

        if (!stopped && !connection.IsDisposing && connection.Client.IsOpen)
        {
            // The close reason is the broker's text (a 403 names the user): scrubbed like every other.
            connection.Lose($"the topology event listener stopped ({reason.ReplyCode} {AmqpErrors.Scrub(reason.ReplyText, connection.Endpoint.User, connection.Endpoint.Password)})");
        }

        return Task.CompletedTask;
    }

    private void OnEvent(string routingKey, IDictionary<string, object?>? rawHeaders)
    {
        var headers = AmqpHeaders.FromAmqp(rawHeaders);
        if (headers is null)
        {
            return;
        }

        var changes = new List<TopologyChange>();
        Action<TopologyChange>[] targets;
        var startFlush = false;
        try
        {
            lock (sync)
            {
                if (routingKey.StartsWith("binding.", StringComparison.Ordinal) && headers.GetValueOrDefault("source_name") as string == EventExchange
                    && headers.GetValueOrDefault("routing_key") is string key && key.StartsWith(MarkerPrefix, StringComparison.Ordinal))
                {
                    if (markers.TryGetValue(key, out var marker))
                    {
                        // Everything emitted before the marker has arrived, including the binding removals that follow an
                        // exchange deletion: the held deletions can be numbered now, after them.
                        changes.AddRange(heldDeletions.Select(held => ToChange("exchange.deleted", held)).OfType<TopologyChange>());
                        heldDeletions.Clear();
                        marker.TrySetResult();
                    }

                    if (changes.Count == 0)
                    {
                        return;
                    }
                }
                else if (headers.GetValueOrDefault("vhost") as string != connection.VirtualHost)
                {
                    return;
                }
                else if (routingKey == "exchange.deleted")
                {
                    // RabbitMQ emits exchange.deleted before the binding.deleted events of the exchange's bindings. Consumers
                    // expect the deletion after them (as the exchange's last change), so hold it until the next marker.
                    heldDeletions.Add(headers);
                    startFlush = heldDeletions.Count == 1;
                }
                else
                {
                    if (routingKey == "exchange.created")
                    {
                        // An exchange deleted and declared again before the marker: its held deletion goes first, or a
                        // consumer would apply it last and take the exchange for deleted while it exists. The binding
                        // removals of the deletion came before this event (the broker emits them with the deletion, before
                        // it answers the delete), so the deletion still follows them.
                        changes.AddRange(TakeHeldDeletionsOf(headers.GetValueOrDefault("name") as string)
                            .Select(held => ToChange("exchange.deleted", held)).OfType<TopologyChange>());
                    }

                    if (ToChange(routingKey, headers) is { } change)
                    {
                        changes.Add(change);
                    }
                }

                targets = [.. subscribers];
            }
        }
        catch (FormatException)
        {
            // An argument this reader cannot parse: skipping the event is safer than reporting a wrong binding.
            return;
        }

        if (startFlush)
        {
            // Not on the client's dispatch thread: the barrier waits for an event that this thread must deliver.
            _ = Task.Run(FlushHeldDeletionsAsync, CancellationToken.None);
        }

        foreach (var change in changes)
        {
            foreach (var target in targets)
            {
                target(change);
            }
        }
    }

    /// <summary>Removes and returns the held deletions of the exchange <paramref name="name"/>. Call under <see cref="sync"/>.</summary>
    private List<Dictionary<string, object?>> TakeHeldDeletionsOf(string? name)
    {
        var taken = heldDeletions.Where(held => name is not null && held.GetValueOrDefault("name") as string == name).ToList();
        heldDeletions.RemoveAll(taken.Contains);
        return taken;
    }

    /// <summary>Builds the change and assigns its serial. Call under <see cref="sync"/>.</summary>
    private TopologyChange? ToChange(string routingKey, Dictionary<string, object?> headers)
    {
        switch (routingKey)
        {
            case "exchange.created":
            {
                if (headers.GetValueOrDefault("name") is not string { Length: > 0 } name)
                {
                    return null;
                }

                var exchange = new ExchangeSpec(
                    name,
                    headers.GetValueOrDefault("type") as string ?? string.Empty,
                    headers.GetValueOrDefault("durable") as bool? ?? false,
                    headers.GetValueOrDefault("auto_delete") as bool? ?? false,
                    headers.GetValueOrDefault("internal") as bool? ?? false,
                    ErlangTermReader.ReadArguments(headers.GetValueOrDefault("arguments") as List<object?>));
                knownExchanges[name] = exchange;
                return new TopologyChange(++serial, TopologyChangeKind.ExchangeDeclared, Exchange: exchange);
            }

            case "exchange.deleted":
            {
                if (headers.GetValueOrDefault("name") is not string { Length: > 0 } name)
                {
                    return null;
                }

                var exchange = knownExchanges.Remove(name, out var known) ? known : new ExchangeSpec(name, string.Empty);
                return new TopologyChange(++serial, TopologyChangeKind.ExchangeDeleted, Exchange: exchange);
            }

            case "binding.created" or "binding.deleted":
            {
                if (headers.GetValueOrDefault("source_kind") as string != "exchange"
                    || headers.GetValueOrDefault("source_name") is not string { Length: > 0 } source)
                {
                    return null;
                }

                var binding = new BindingSpec(
                    source,
                    headers.GetValueOrDefault("destination_name") as string ?? string.Empty,
                    headers.GetValueOrDefault("destination_kind") as string == "exchange" ? BindingDestinationKind.Exchange : BindingDestinationKind.Queue,
                    headers.GetValueOrDefault("routing_key") as string ?? string.Empty,
                    ErlangTermReader.ReadArguments(headers.GetValueOrDefault("arguments") as List<object?>));
                return new TopologyChange(++serial, routingKey == "binding.created" ? TopologyChangeKind.BindingAdded : TopologyChangeKind.BindingRemoved, Binding: binding);
            }

            default:
                return null;
        }
    }

    private sealed class Subscription(AmqpTopologySource source, Action<TopologyChange> onChange) : IDisposable
    {
        public void Dispose()
        {
            lock (source.sync)
            {
                source.subscribers.Remove(onChange);
            }
        }
    }
}
