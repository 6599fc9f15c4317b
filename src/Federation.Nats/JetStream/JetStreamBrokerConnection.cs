using System.Collections.Concurrent;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Federation.Nats.JetStream;

/// <summary>
/// JetStream mode of the NATS transport (<c>jetstream=true</c>): a decorator over the core connection that keeps its
/// exchanges and topology but makes queues durable and publishes confirmed by the stream.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><b>Upstream.</b> A stream captures each exchange that a queue's bindings read from (<c>X</c> and <c>X.&gt;</c>; see
/// <see cref="JetStreamStreams"/>). The queue is a durable pull consumer with explicit ack on it
/// (<see cref="JetStreamQueue"/>, <see cref="JetStreamQueueConsumer"/>); bindings subscribe nothing and filter on the
/// client (<see cref="JetStreamBindingGraph"/>). Deleting the queue deletes the consumer; the stream stays.</item>
/// <item><b>Downstream.</b> Publishes go through JetStream and are confirmed by its PubAck (<see cref="JetStreamPublisher"/>),
/// carrying <c>Nats-Msg-Id</c>. The stream of an exchange is ensured before its first publish, and at connect for every
/// exchange of <c>namespaces</c> on an observed downstream, since the stream's own subscriptions are the interest the
/// links federate.</item>
/// <item><b>Exclusive queues</b> stay core queues (see <see cref="JetStreamTransientQueues"/>): no stream, no durable
/// consumer, and a publish without confirms to a non-durable exchange that only such queues read creates no stream.</item>
/// </list>
/// The connection is lost (and <see cref="Completion"/> faults) when either the core connection or the JetStream client is.
/// </remarks>
internal sealed class JetStreamBrokerConnection : IBrokerConnection
{
    private readonly IBrokerConnection _core;
    private readonly NatsConnection _client;
    private readonly NatsJSContext _js;
    private readonly JetStreamUriSettings _settings;
    private readonly JetStreamStreams _streams;
    private readonly JetStreamBindingGraph _graph = new();
    private readonly JetStreamTransientQueues _transient = new();
    private readonly ConcurrentDictionary<string, JetStreamQueue> _queues = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _topologyGate = new(1, 1);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string? _configuredClusterName;
    private readonly JetStreamConsumerMinimums _minimums;

    // Only used when the core connection is not the transport's own (tests): the transport's outlive the connection.
    private readonly JetStreamAckFloors _ownAckFloors = new();
    private readonly JetStreamTakeOvers _ownTakeOvers = new();
    private int _disposed;

    private JetStreamBrokerConnection(IBrokerConnection core, NatsConnection client, NatsUriSettings settings, bool observeTopology)
    {
        _core = core;
        _client = client;
        _settings = settings.JetStream!;
        _js = new NatsJSContext(client);
        _streams = new JetStreamStreams(_js, _settings, core.DisplayUri, observeTopology && core.Topology is NatsTopologySource topology ? (exchange, stream, subjects) => ReportStreamInterest(topology, exchange, stream, subjects) : null);
        // Only what the URI says: the fallback of core.ClusterName, the server's name, is a new server_id on every
        // restart of a server started without a name, and another node's after a failover (see AttachQueuesAsync).
        _configuredClusterName = settings.ClusterName;
        _minimums = new JetStreamConsumerMinimums(_js, _settings.AckWait, core.DisplayUri, client.Opts, Logger);
        _ = core.Completion.ContinueWith(
            t =>
            {
                if (t.IsFaulted)
                {
                    _completion.TrySetException(t.Exception!.InnerExceptions);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        client.ConnectionDisconnected += OnClientDisconnected;
    }

    public string? ClusterName => _core.ClusterName;

    public string VirtualHost => _core.VirtualHost;

    public string DisplayUri => _core.DisplayUri;

    public Task Completion => _completion.Task;

    public ITopologySource? Topology => _core.Topology;

    /// <summary>The official client's connection (tests close it under the engine, as a killed process would).</summary>
    internal NatsConnection Client => _client;

    /// <summary>How far the links settled each durable consumer, kept by the transport across connections.</summary>
    private JetStreamAckFloors AckFloors => (_core as NatsBrokerConnection)?.AckFloors ?? _ownAckFloors;

    /// <summary>Which durable consumers took another queue's over, kept by the transport across connections.</summary>
    private JetStreamTakeOvers TakeOvers => (_core as NatsBrokerConnection)?.TakeOvers ?? _ownTakeOvers;

    private Microsoft.Extensions.Logging.ILogger Logger => (_core as NatsBrokerConnection)?.Logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>The core connection's leases: they need JetStream's key-value store, not JetStream mode.</summary>
    public IBrokerLeases? Leases => _core.Leases;

    /// <summary>
    /// Wraps <paramref name="core"/> in JetStream mode. <paramref name="client"/> is the core connection's own official
    /// client connection, which the core connection opened (with the URI's credentials and TLS) and closes. On failure,
    /// <paramref name="core"/> is disposed.
    /// </summary>
    /// <exception cref="BrokerUnreachableException">The server has no JetStream.</exception>
    public static async ValueTask<IBrokerConnection> CreateAsync(IBrokerConnection core, NatsUriSettings settings, ConnectionRequest request, NatsConnection client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(core);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        _ = settings.JetStream ?? throw new ArgumentException("The URI does not have jetstream=true.", nameof(settings));
        JetStreamBrokerConnection? connection = null;
        try
        {
            // No client of its own: one opened here from settings.ServerUrl would carry the URI's user:password in its
            // URL and none of the core connection's authentication or TLS options.
            connection = new JetStreamBrokerConnection(core, client, settings, request.ObserveTopology);
            try
            {
                await connection._js.GetAccountInfoAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                throw JetStreamErrors.Map(ex, "report the account's JetStream usage", core.DisplayUri, client.Opts);
            }

            if (request.ObserveTopology)
            {
                // The downstream's streams are its interest: they must exist before the links can see any.
                foreach (var exchange in settings.Namespaces)
                {
                    await connection._streams.EnsureAsync(exchange).WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            return connection;
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await core.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    public async ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ThrowIfLost();
        await _core.DeclareExchangeAsync(exchange, cancellationToken).ConfigureAwait(false);
        _graph.DeclareExchange(exchange);
    }

    public ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        return _core.ExchangeExistsAsync(name, cancellationToken);
    }

    public async ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        await _core.DeleteExchangeAsync(name, cancellationToken).ConfigureAwait(false);
        _graph.DeleteExchange(name);
    }

    /// <summary>Records the queue; its durable consumer is created once a binding tells which exchange's stream it reads.</summary>
    public ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ThrowIfLost();
        if (JetStreamTransientQueues.IsTransient(queue))
        {
            _transient.Declare(queue.Name);
            return _core.DeclareQueueAsync(queue, cancellationToken);
        }

        _graph.DeclareQueue(queue.Name);
        var state = _queues.GetOrAdd(queue.Name, name => new JetStreamQueue(name, _graph));
        if (queue.TakesOver is { } retired && retired != queue.Name)
        {
            state.TakesOver ??= retired;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Whether the durable consumer of <paramref name="queue"/> was created at the acknowledgement floor of <paramref name="retired"/>'s, by any connection of this transport.</summary>
    public ValueTask<bool> HasTakenOverAsync(string queue, string retired, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        return ValueTask.FromResult(TakeOvers.Took(JetStreamNames.ConsumerFor(queue), JetStreamNames.ConsumerFor(retired)));
    }

    /// <summary>Deletes the queue's durable consumer (and so what it had not acknowledged). The stream stays: other links may read it.</summary>
    /// <remarks>
    /// How many messages that discards is left unknown (the interface's default for
    /// <see cref="IBrokerConnection.DeleteQueueCountingDiscardedAsync"/>): the consumer has no filter subject (the bindings
    /// filter on the client), so its pending count takes in every message of the exchange past it, routing keys the queue
    /// is not bound to included, and the deletion itself reports no count. A bound, not the number discarded.
    /// </remarks>
    public ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken) => DeleteAsync(name, source: null, cancellationToken);

    /// <summary>
    /// Deletes the queue's durable consumer, as <see cref="DeleteQueueAsync"/> does; when it is not attached on this
    /// connection, only on the stream this URI reads for <paramref name="source"/>: the <c>stream=</c> one, or else the
    /// exchange's own.
    /// </summary>
    /// <remarks>
    /// A link's durable consumer has the same name on every stream. After a reload that changed <c>stream=</c>, the old
    /// definition's consumer is deleted (between runs, or by a sweep's second look) on a connection of the old URI, while
    /// the link's new run reads the new stream with a consumer of the same name: deleted on every stream, as it was, that
    /// one went too, and the new run lost its position and what it had not acknowledged.
    /// </remarks>
    public async ValueTask<long?> DeleteUpstreamQueueAsync(string name, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        await DeleteAsync(name, source, cancellationToken).ConfigureAwait(false);
        return null;
    }

    private async ValueTask DeleteAsync(string name, string? source, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        if (_transient.Contains(name))
        {
            _transient.Delete(name);
            await _core.DeleteQueueAsync(name, cancellationToken).ConfigureAwait(false);
            return;
        }

        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _graph.DeleteQueue(name);
            var consumer = JetStreamNames.ConsumerFor(name);
            string? stream = null;
            if (_queues.TryRemove(name, out var queue))
            {
                stream = queue.Attached.IsCompletedSuccessfully ? queue.Attached.Result.Stream : null;
                queue.Delete();
            }

            // Not attached here: the stream this URI reads, when that is known. A connection with stream= reads no other.
            stream ??= _settings.Stream ?? (source is null ? null : JetStreamNames.StreamFor(source));

            AckFloors.Forget(consumer, stream);
            TakeOvers.Forget(consumer);

            try
            {
                if (stream is not null)
                {
                    await _js.DeleteConsumerAsync(stream, consumer, cancellationToken).ConfigureAwait(false);
                    return;
                }

                // Neither attached on this connection nor told which exchange it reads (and no stream=): find the stream
                // that holds a consumer of that name.
                await foreach (var candidate in _js.ListStreamNamesAsync(subject: null, cancellationToken).ConfigureAwait(false))
                {
                    try
                    {
                        await _js.DeleteConsumerAsync(candidate, consumer, cancellationToken).ConfigureAwait(false);
                    }
                    catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
                    {
                        // Not in this stream.
                    }
                }
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
            {
                // Deleting a missing queue is a no-op.
            }
            catch (Exception ex)
            {
                throw JetStreamErrors.Map(ex, $"delete the consumer '{consumer}'", DisplayUri, _client.Opts);
            }
        }
        finally
        {
            _topologyGate.Release();
        }
    }

    /// <summary>Records the binding (no subscription: the stream captures); attaches a queue that a binding has just connected to an exchange.</summary>
    public async ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ThrowIfLost();
        if (_transient.Targets(binding))
        {
            // A core subscription feeds it, as on a core connection.
            await _core.BindAsync(binding, noWait, cancellationToken).ConfigureAwait(false);
            _transient.Bind(binding);
            return;
        }

        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var sourceType = _graph.TypeOf(binding.Source);
            if (!_graph.IsInternal(binding.Source))
            {
                _ = NatsSubjectMapping.SubscribeSubjects(binding.Source, sourceType, binding.RoutingKey); // validates the key as the core transport does
            }

            var destinationExists = binding.DestinationKind == BindingDestinationKind.Queue
                ? _graph.HasQueue(binding.Destination)
                : _graph.HasExchange(binding.Destination) || await _core.ExchangeExistsAsync(binding.Destination, cancellationToken).ConfigureAwait(false);
            if (!destinationExists)
            {
                throw new ResourceNotFoundException($"No {(binding.DestinationKind == BindingDestinationKind.Queue ? "queue" : "exchange")} '{binding.Destination}' on this NATS connection.");
            }

            if (_graph.Bind(binding))
            {
                await AttachQueuesAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _topologyGate.Release();
        }
    }

    public ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ThrowIfLost();
        if (_transient.Targets(binding))
        {
            _transient.Unbind(binding);
            return _core.UnbindAsync(binding, noWait, cancellationToken);
        }

        _graph.Unbind(binding);
        return ValueTask.CompletedTask;
    }

    public async ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfLost();
        if (options.Confirms && options.Exchange is { } exchange && !NeedsNoStream(exchange))
        {
            // A link's publisher: the stream its first message would wait for is looked up (or created) now, so that a named
            // stream an operator deleted fails the link's start by name, rather than leave it showing running until a message
            // comes, between every two failures.
            await StreamForPublishAsync(exchange).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var inbox = options.Confirms
            ? await JetStreamPubAckInbox.OpenAsync(_client, DisplayUri, _js.Opts.RequestTimeout, TimeProvider.System, _streams.Forget, options.Dropped, cancellationToken).ConfigureAwait(false)
            : null;
        return new JetStreamPublisher(this, _client, inbox);
    }

    public async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfLost();
        if (_transient.Contains(queue))
        {
            return await _core.ConsumeAsync(queue, options, handler, cancellationToken).ConfigureAwait(false);
        }

        if (!_queues.TryGetValue(queue, out var state))
        {
            throw new ResourceNotFoundException($"No queue '{queue}' on this NATS connection.");
        }

        if (!options.AutoAck && options.Prefetch > state.Prefetch)
        {
            state.Prefetch = options.Prefetch;
        }

        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await AttachQueuesAsync(cancellationToken).ConfigureAwait(false);

            // Attached before this consumer said its prefetch (a binding came first): raise the consumer's limit now.
            if (state.Attached.IsCompletedSuccessfully && JetStreamMaxAckPending.Needed(state.Prefetch))
            {
                var stream = state.Attached.Result.Stream;
                try
                {
                    var consumer = await _js.GetConsumerAsync(stream, state.ConsumerName, cancellationToken).ConfigureAwait(false);
                    await _minimums.RaiseAsync(stream, state, consumer, cancellationToken).ConfigureAwait(false);
                }
                catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
                {
                    // Deleted under the link since it was attached: consuming then fails as for a consumer deleted under a
                    // running link, and the link's next run creates it again after the last sequence it settled (see
                    // CreateConsumerAsync), with this prefetch. Nothing to raise meanwhile.
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    throw JetStreamErrors.Map(ex, $"look up the consumer '{state.ConsumerName}' on the stream '{stream}'", DisplayUri, _client.Opts);
                }
            }
        }
        finally
        {
            _topologyGate.Release();
        }

        return new JetStreamQueueConsumer(state, options, handler, DisplayUri, _client.Opts, Completion, _minimums);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _client.ConnectionDisconnected -= OnClientDisconnected;
        foreach (var queue in _queues.Values)
        {
            queue.Delete();
        }

        try
        {
            // The core connection closes the client, which is its own.
            await _core.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _completion.TrySetResult();
            _topologyGate.Dispose();
        }
    }

    /// <summary>
    /// Reports the subjects a stream captures as bindings of a pseudo-queue <c>jetstream-stream:&lt;stream&gt;</c>, for as long as
    /// this connection lives: the stream's own subscriptions (which <c>/subsz</c> shows) are this downstream's interest only
    /// while the stream exists. Deleted under a running link, it would take the interest with it; the links would unbind
    /// upstream and their durable consumers acknowledge, without forwarding, everything published meanwhile. With this
    /// interest they go on forwarding, and a publish that no stream captures is refused (held upstream) until the stream is
    /// back (see <see cref="JetStreamStreams.Forget"/>).
    /// </summary>
    private static void ReportStreamInterest(NatsTopologySource topology, string exchange, string stream, ICollection<string> subjects)
    {
        topology.Report(TopologyChangeKind.ExchangeDeclared, new ExchangeSpec(exchange, ExchangeSpec.Types.Topic), null);
        foreach (var subject in subjects)
        {
            if (NatsSubjectMapping.TryGetBindingKey(exchange, subject, out var key))
            {
                topology.Report(TopologyChangeKind.BindingAdded, null, new BindingSpec(exchange, $"jetstream-stream:{stream}", BindingDestinationKind.Queue, key));
            }
        }
    }

    /// <summary>The stream the publisher's first message to <paramref name="exchange"/> waits for (created if missing).</summary>
    internal Task<string> StreamForPublishAsync(string exchange) => _streams.EnsureAsync(exchange);

    /// <summary>
    /// Whether an unconfirmed publish to <paramref name="exchange"/> goes out on core NATS without ensuring a stream: the
    /// exchange was declared non-durable here and exclusive queues read it (a stream that exists for another reason still
    /// captures the message).
    /// </summary>
    internal bool NeedsNoStream(string exchange) => _transient.AreBoundTo(exchange) && _graph.IsDeclaredNonDurable(exchange);

    /// <summary>For every queue that bindings now connect to an exchange: ensures the stream and the durable consumer. Call under the topology gate.</summary>
    private async ValueTask AttachQueuesAsync(CancellationToken cancellationToken)
    {
        foreach (var queue in _queues.Values)
        {
            var sources = _graph.SourcesOf(queue.Name);
            if (sources.Count == 0)
            {
                continue;
            }

            if (queue.Attached.IsCompletedSuccessfully)
            {
                var attached = queue.Attached.Result.Exchange;
                if (sources.Any(s => s != attached))
                {
                    throw new PreconditionFailedException($"Queue '{queue.Name}' reads the stream of exchange '{attached}'; in JetStream mode a queue cannot also take messages from '{sources.First(s => s != attached)}'.");
                }

                continue;
            }

            if (sources.Count > 1)
            {
                throw new PreconditionFailedException($"Queue '{queue.Name}' would take messages from the exchanges {string.Join(", ", sources.Select(s => $"'{s}'"))}; in JetStream mode a queue reads one exchange's stream.");
            }

            var stream = await _streams.EnsureAsync(sources[0]).WaitAsync(cancellationToken).ConfigureAwait(false);
            var (consumer, floor) = await EnsureConsumerAsync(stream, queue, cancellationToken).ConfigureAwait(false);
            var upstream = _configuredClusterName ?? JetStreamMessageIdentity.UpstreamOf(await StreamCreatedAsync(stream, cancellationToken).ConfigureAwait(false));
            queue.Attach(new JetStreamAttachment(consumer, sources[0], stream, upstream, floor));
        }
    }

    /// <summary>
    /// When <paramref name="stream"/> was created: the same on every node of a cluster and across restarts of its servers
    /// (the store keeps it), and new for a stream deleted and created again, whose sequences start from 1 again.
    /// </summary>
    private async ValueTask<DateTimeOffset> StreamCreatedAsync(string stream, CancellationToken cancellationToken)
    {
        try
        {
            var info = await _js.GetStreamAsync(stream, request: null, cancellationToken).ConfigureAwait(false);
            return info.Info.Created;
        }
        catch (Exception ex)
        {
            throw JetStreamErrors.Map(ex, $"look up the stream '{stream}'", DisplayUri, _client.Opts);
        }
    }

    /// <summary>
    /// The queue's durable consumer: the existing one (its ack wait and <c>max_ack_pending</c> raised to what this link needs
    /// where they are lower, never lowered: see <see cref="JetStreamConsumerMinimums"/>), or a new one with explicit ack,
    /// without a filter subject (the bindings filter on the client); and how far the link has settled it.
    /// </summary>
    /// <remarks>
    /// A new consumer delivers what arrives from now on, unless this process attached it before on this incarnation of
    /// the stream: then it was deleted under the link (by hand), and it is created again right after the last stream
    /// sequence the link settled (see <see cref="JetStreamAckFloor"/>), so that what is still in the stream is not skipped.
    /// On a stream this connection has just created for the link, it delivers everything: what the stream captured between
    /// its creation and the consumer's (until 6 Dec 2026 skipped: 23 messages of a black-box run's switch to JetStream).
    /// A queue declared as taking another's place (<see cref="QueueSpec.TakesOver"/>: a reload renamed the downstream, and
    /// the link under the new name has another queue) whose consumer is on the same stream starts right after that
    /// consumer's acknowledgement floor (<see cref="TakeOverStartAsync"/>).
    /// </remarks>
    private async ValueTask<(INatsJSConsumer Consumer, JetStreamAckFloor Floor)> EnsureConsumerAsync(string stream, JetStreamQueue queue, CancellationToken cancellationToken)
    {
        var name = queue.ConsumerName;
        try
        {
            var created = (await _js.GetStreamAsync(stream, request: null, cancellationToken).ConfigureAwait(false)).Info.Created;
            INatsJSConsumer consumer;
            try
            {
                var existing = await _js.GetConsumerAsync(stream, name, cancellationToken).ConfigureAwait(false);
                consumer = await _minimums.RaiseAsync(stream, queue, existing, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
            {
                consumer = await CreateConsumerAsync(stream, created, queue, cancellationToken).ConfigureAwait(false);
            }

            return (consumer, AckFloors.Attach(stream, name, created, consumer.Info.AckFloor?.StreamSeq ?? 0, consumer.Info.Delivered?.StreamSeq ?? 0));
        }
        catch (Exception ex)
        {
            throw JetStreamErrors.Map(ex, $"create the consumer '{name}' on the stream '{stream}'", DisplayUri, _client.Opts);
        }
    }

    /// <summary>
    /// Creates the queue's durable consumer: see <see cref="EnsureConsumerAsync"/> for where it starts. Its
    /// <c>max_ack_pending</c> is the queue's <see cref="JetStreamQueue.Prefetch"/> when that is above the server's default;
    /// over the server's or the account's limit, it is created with the server's choice instead (warning 6402). Another
    /// instance may create it at the same moment, and the later create updates the consumer with its own whole
    /// configuration: what it holds is read back and raised to this link's ack wait and prefetch where the other's write
    /// lowered them (see <see cref="JetStreamConsumerMinimums"/>).
    /// </summary>
    private async ValueTask<INatsJSConsumer> CreateConsumerAsync(string stream, DateTimeOffset streamCreated, JetStreamQueue queue, CancellationToken cancellationToken)
    {
        var known = AckFloors.Find(stream, queue.ConsumerName, streamCreated);
        var takeOver = known is null ? await TakeOverStartAsync(stream, queue, cancellationToken).ConfigureAwait(false) : null;
        var resumeAt = known is not null ? known.Floor + 1 : takeOver?.Start ?? 0;
        var config = new ConsumerConfig(queue.ConsumerName)
        {
            Description = $"Federation queue '{queue.Name}'",
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            AckWait = _settings.AckWait,
            DeliverPolicy = known is not null || takeOver is not null ? ConsumerConfigDeliverPolicy.ByStartSequence
                : _streams.CreatedHere(stream, streamCreated) ? ConsumerConfigDeliverPolicy.All
                : ConsumerConfigDeliverPolicy.New,
            OptStartSeq = resumeAt,
            MaxDeliver = -1,
        };
        if (JetStreamMaxAckPending.Needed(queue.Prefetch))
        {
            config.MaxAckPending = queue.Prefetch;
        }

        INatsJSConsumer consumer;
        var createdHere = true;
        try
        {
            consumer = await _js.CreateOrUpdateConsumerAsync(stream, config, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == JetStreamErrors.MaxAckPendingOverLimit && config.MaxAckPending > 0)
        {
            // Thrown on, it would fail the binding that attaches the queue and restart the link, and what is published until
            // the link is back would never reach the consumer, which starts at new messages: the link runs with the limit.
            consumer = await _js.CreateOrUpdateConsumerAsync(stream, config with { MaxAckPending = 0 }, cancellationToken).ConfigureAwait(false);
            _minimums.CreatedWithoutRaise(stream, queue, consumer, ex);
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == JetStreamErrors.DeliverPolicyNotUpdatable)
        {
            // Another instance created it a moment before, starting elsewhere (this one created the stream and starts at its
            // first message): that consumer is the link's now, and its start stands; read back and raised below.
            createdHere = false;
        }

        consumer = await _minimums.RaiseAsync(stream, queue, await _js.GetConsumerAsync(stream, queue.ConsumerName, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

        if (known is not null)
        {
            JetStreamLog.ConsumerRecreated(Logger, DisplayUri, queue.ConsumerName, stream, resumeAt);
        }
        else if (takeOver is { } taken && createdHere)
        {
            TakeOvers.Record(queue.ConsumerName, taken.Retired);
            JetStreamLog.ConsumerTookOver(Logger, DisplayUri, queue.ConsumerName, stream, resumeAt, taken.Retired);
        }

        return consumer;
    }

    /// <summary>
    /// Where a new durable consumer for <paramref name="queue"/> starts when the queue takes another's place
    /// (<see cref="JetStreamQueue.TakesOver"/>) and that queue's consumer is on <paramref name="stream"/>: right after its
    /// acknowledgement floor, the first stream sequence it has not had acknowledged for good. Everything it had not
    /// acknowledged, and everything the stream captured since it stopped, is then delivered by the new consumer; what it
    /// had delivered past its floor (acknowledged out of order, or acknowledged after this look) comes again: duplicates,
    /// never a loss. Null when the queue takes nothing over or that consumer is not on this stream (another stream, or
    /// gone): the new consumer then starts as any other.
    /// </summary>
    /// <remarks>
    /// Looked up on the server, not in <see cref="AckFloors"/>: the old link may have run in another process (another
    /// instance renamed alike), and only the server's floor is what every instance acknowledged. The old consumer stays
    /// until the engine deletes it, once this queue is bound (the retired queue's forwarding, under the rules of
    /// <c>RetiredUpstreamQueues</c>); until then an old link still running elsewhere moves its floor on, which only
    /// makes duplicates.
    /// </remarks>
    private async ValueTask<(string Retired, ulong Start)?> TakeOverStartAsync(string stream, JetStreamQueue queue, CancellationToken cancellationToken)
    {
        if (queue.TakesOver is not { } retiredQueue)
        {
            return null;
        }

        var retired = JetStreamNames.ConsumerFor(retiredQueue);
        try
        {
            var old = await _js.GetConsumerAsync(stream, retired, cancellationToken).ConfigureAwait(false);
            return (retired, (old.Info.AckFloor?.StreamSeq ?? 0) + 1);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == JetStreamErrors.NotFound)
        {
            return null;
        }
    }

    private ValueTask OnClientDisconnected(object? sender, NatsEventArgs args)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _completion.TrySetException(new ConnectionLostException($"The JetStream connection to {DisplayUri} was lost."));
        }

        return ValueTask.CompletedTask;
    }

    private void ThrowIfLost()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_completion.Task.IsFaulted)
        {
            throw new ConnectionLostException($"The NATS connection to {DisplayUri} was lost.");
        }
    }
}
