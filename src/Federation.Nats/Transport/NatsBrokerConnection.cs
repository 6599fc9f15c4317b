using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// One <see cref="IBrokerConnection"/> over one NATS connection. NATS has no queues, exchanges or bindings, so they are emulated
/// client-side, per connection: a queue is a bounded in-process buffer, an exchange is a router, and a binding whose source is
/// a (non-internal) exchange is a NATS subscription on the subjects the binding key maps to (see <see cref="NatsSubjectMapping"/>).
/// These objects live as long as the connection (durability is not possible over core NATS). The wire is the official
/// client's (NATS.Client.Core).
/// </summary>
/// <remarks>
/// Delivery is at-most-once: acks and nacks are accepted and ignored, and messages in a queue are lost with the connection.
/// Nothing is dropped silently inside the process: a full queue pushes back (its subscriptions stop reading, the client's
/// buffer fills, TCP slows the server down), and a message the client itself drops is reported to the consumers (<see cref="ConsumerOptions.Dropped"/>). A message that several overlapping subscriptions of one exchange receive (NATS
/// sends one copy per matching subscription) is routed once: only the matching subscription with the lowest id routes it.
/// </remarks>
internal sealed partial class NatsBrokerConnection : IBrokerConnection
{
    private readonly NatsConnection _nats;
    private readonly NatsUriSettings _settings;
    private readonly SemaphoreSlim _topologyGate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly NatsPublishConfirmer _confirmer;
    private readonly CancellationTokenSource _closing = new();
    private readonly Dictionary<string, NatsEmulatedExchange> _exchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NatsEmulatedQueue> _queues = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NatsTopologySource _topology;
    private readonly List<(NatsEmulatedQueue Queue, MessageDropHandler Handler)> _dropListeners = [];
    private readonly List<(NatsPublisher Publisher, MessageDropHandler Handler)> _publishDropListeners = [];
    private readonly Microsoft.Extensions.Logging.ILogger _logger;
    private int _disposed;

    private readonly Leases.NatsKvLeases? _leases;
    private readonly string _clusterName;
    private Action? _reportNoLeases;
    private Action<string>? _reportEndpointName;

    public NatsBrokerConnection(NatsConnection nats, NatsUriSettings settings, string displayUri, Leases.NatsKvLeases? leases = null, Action? reportNoLeases = null, Microsoft.Extensions.Logging.ILogger? logger = null, Action<string>? reportEndpointName = null, Action<string?>? topologyUnobserved = null)
    {
        _nats = nats;
        _leases = leases;
        _reportNoLeases = reportNoLeases;
        leases?.TieTo(_completion.Task);
        _settings = settings;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        DisplayUri = displayUri;
        var (clusterName, source) = NatsClusterIdentity.Of(settings.ClusterName, nats.ServerInfo, settings.ServerUrl);
        _clusterName = clusterName;
        _reportEndpointName = source == NatsClusterIdentity.Source.Endpoint ? reportEndpointName : null;
        _topology = new NatsTopologySource(settings, logger, displayUri, nats.ServerInfo?.Id, topologyUnobserved, nats.ServerInfo?.Name);
        _confirmer = new NatsPublishConfirmer(nats, _completion.Task);
        nats.ConnectionDisconnected += OnDisconnectedAsync;
        nats.MessageDropped += OnMessageDroppedAsync;
        nats.ServerError += OnServerErrorAsync;
        if (nats.ConnectionState != NatsConnectionState.Open)
        {
            Lost(new ConnectionLostException($"The NATS connection {DisplayUri} was lost."));
        }
    }

    /// <summary>
    /// The name this deployment is known by (see <see cref="NatsClusterIdentity"/>): stable across server restarts and the
    /// same on every node of a cluster. When it is only the URI's endpoint, the first read says so (once per URI): on a
    /// downstream the engine reads it only when Federation:ClusterName does not set one.
    /// </summary>
    public string? ClusterName
    {
        get
        {
            Interlocked.Exchange(ref _reportEndpointName, null)?.Invoke(_clusterName);
            return _clusterName;
        }
    }

    /// <summary>The vhost every NATS connection reports: accounts are not mapped.</summary>
    internal const string VirtualHostName = "/";

    /// <summary>Always <c>/</c>: NATS accounts are not mapped.</summary>
    public string VirtualHost => VirtualHostName;

    public string DisplayUri { get; }

    public Task Completion => _completion.Task;

    public ITopologySource? Topology => _topology;

    /// <summary>
    /// Keys of a JetStream key-value bucket (see <see cref="Leases.NatsKvLeases"/>), or null when the server has no JetStream
    /// or <c>leases=false</c>; then the first read says why (once per URI), since only a connection asked for leases
    /// (a downstream) needs them.
    /// </summary>
    public IBrokerLeases? Leases
    {
        get
        {
            Interlocked.Exchange(ref _reportNoLeases, null)?.Invoke();
            return _leases;
        }
    }

    /// <summary>The official client's connection (the JetStream mode uses it).</summary>
    internal NatsConnection Client => _nats;

    /// <summary>The transport's record of how far links settled their durable consumers (the JetStream mode uses it).</summary>
    internal JetStream.JetStreamAckFloors? AckFloors { get; init; }

    /// <summary>The transport's record of which durable consumers took another queue's over (the JetStream mode uses it).</summary>
    internal JetStream.JetStreamTakeOvers? TakeOvers { get; init; }

    /// <summary>Where this connection logs (the JetStream mode logs there too).</summary>
    internal Microsoft.Extensions.Logging.ILogger Logger => _logger;

    public ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfLost();
        NatsEmulatedQueue? state;
        lock (_lock)
        {
            if (!_queues.TryGetValue(queue, out state))
            {
                throw new ResourceNotFoundException($"No queue '{queue}' on this NATS connection.");
            }
        }

        var consumer = new NatsQueueConsumer(state, handler, options?.Dropped, _completion.Task);
        if (options?.Dropped is { } dropped)
        {
            lock (_lock)
            {
                _dropListeners.Add((state, dropped));
            }
        }

        return ValueTask.FromResult<IMessageConsumer>(consumer);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _nats.ConnectionDisconnected -= OnDisconnectedAsync;
        _nats.MessageDropped -= OnMessageDroppedAsync;
        _nats.ServerError -= OnServerErrorAsync;
        if (_leases is not null)
        {
            // Released while the connection still works, so that a waiting engine takes them at once.
            await _leases.DisposeAsync().ConfigureAwait(false);
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        await _topology.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _nats.DisposeAsync().ConfigureAwait(false);
        }
        catch (NatsException)
        {
            // The client throws (NatsTimeoutException) when disposed after its socket died; it is closed either way,
            // and a throwing dispose would stop the engine's supervisor from reconnecting.
        }
        List<(NatsEmulatedQueue Queue, MessageDropHandler Handler)> listeners;
        lock (_lock)
        {
            foreach (var queue in _queues.Values)
            {
                queue.Close(null);
            }

            listeners = [.. _dropListeners];
        }

        // Core NATS cannot send again what its emulated queues still hold: it dies with the connection, and is counted
        // (once per queue, to that queue's consumers) instead of vanishing.
        foreach (var group in listeners.GroupBy(l => l.Queue))
        {
            var lost = group.Key.TakeAllRemaining();
            if (lost > 0)
            {
                var cause = ClosedWithMessagesCause(group.Key, lost);
                foreach (var (_, handler) in group)
                {
                    handler(ShutdownReason, lost, cause);
                }
            }
        }

        _completion.TrySetResult();
        _topologyGate.Dispose();
        _closing.Dispose();
    }

    /// <summary>The drop reason of a message whose header block the client cannot parse, or whose headers cannot be mapped.</summary>
    internal const string UnreadableReason = "unreadable";

    /// <summary>The drop reason of messages left in an emulated queue when its connection or consumer went away.</summary>
    internal const string ShutdownReason = "shutdown";

    /// <summary>Why <paramref name="count"/> messages left in <paramref name="queue"/> are lost.</summary>
    internal static string ClosedWithMessagesCause(NatsEmulatedQueue queue, long count) =>
        $"{count} message(s) were still waiting in the emulated queue '{queue.Spec.Name}' when its NATS connection closed, and core NATS cannot send them again";

    /// <summary>How many messages wait in an emulated queue (tests look; 0 for an unknown queue).</summary>
    internal int QueuedMessages(string queue)
    {
        lock (_lock)
        {
            return _queues.TryGetValue(queue, out var state) ? state.Count : 0;
        }
    }

    private void Lost(ConnectionLostException error)
    {
        if (_completion.TrySetException(error))
        {
            lock (_lock)
            {
                foreach (var queue in _queues.Values)
                {
                    queue.Close(error);
                }
            }

            // The engine reconnects by opening a new connection; stop this client from reconnecting on its own.
            _ = Task.Run(async () =>
            {
                try
                {
                    await _nats.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NatsException or ObjectDisposedException)
                {
                    // it is gone either way
                }
            });
        }
    }

    private void ThrowIfLost()
    {
        // The SPI's contract: every call after disposal or loss throws ConnectionLostException.
        if (Volatile.Read(ref _disposed) != 0 || _completion.Task.IsFaulted)
        {
            // The reason it was lost (a refused subscription, say) rather than only that it was.
            var why = _completion.Task.Exception?.InnerException;
            throw why is null ? new ConnectionLostException($"The NATS connection {DisplayUri} was lost.") : new ConnectionLostException(why.Message, why);
        }
    }
}
