using System.Buffers;
using Federation.Core.Transport;
using Federation.Nats.Client;

namespace Federation.Nats.Transport;

/// <summary>
/// One <see cref="IBrokerConnection"/> over one NATS connection. NATS has no queues, exchanges or bindings, so they are emulated
/// client-side, per connection: a queue is a bounded in-process buffer, an exchange is a router, and a binding whose source is
/// a (non-internal) exchange is a NATS subscription on the subjects the binding key maps to (see <see cref="NatsSubjectMapping"/>).
/// These objects live as long as the connection (durability is not possible over core NATS).
/// </summary>
/// <remarks>
/// Delivery is at-most-once: acks and nacks are accepted and ignored, a full queue drops the arriving message, and messages
/// in a queue are lost with the connection. A message that several overlapping subscriptions of one exchange receive (NATS
/// sends one copy per matching subscription) is routed once: only the matching subscription with the lowest id routes it.
/// </remarks>
internal sealed class NatsBrokerConnection : IBrokerConnection
{
    private const int QueueCapacity = 64 * 1024;

    private readonly NatsConnection _nats;
    private readonly NatsUriSettings _settings;
    private readonly SemaphoreSlim _topologyGate = new(1, 1);
    private readonly Lock _lock = new();
    private SharedConfirmationTask? _sharedConfirmation;
    private readonly Dictionary<string, ExchangeState> _exchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QueueState> _queues = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NatsTopologySource _topology;
    [ThreadStatic]
    private static HashSet<QueueState>? t_targets;
    [ThreadStatic]
    private static HashSet<string>? t_visited;
    private long _nextSubscriptionId;
    private int _disposed;

    public NatsBrokerConnection(NatsConnection nats, NatsUriSettings settings, string displayUri)
    {
        _nats = nats;
        _settings = settings;
        DisplayUri = displayUri;
        ClusterName = settings.ClusterName ?? nats.ServerInfo?.ServerName ?? nats.ServerInfo?.ServerId;
        _topology = new NatsTopologySource(settings);
        nats.ConnectionEvent += OnConnectionEvent;
        if (nats.State != NatsConnectionState.Connected)
        {
            Lost();
        }
    }

    public string? ClusterName { get; }

    /// <summary>Always <c>/</c>: NATS accounts are not mapped.</summary>
    public string VirtualHost => "/";

    public string DisplayUri { get; }

    public Task Completion => _completion.Task;

    public ITopologySource? Topology => _topology;

    internal NatsConnection Client => _nats;

    public async ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ThrowIfLost();
        if (exchange.Type is not (ExchangeSpec.Types.Topic or ExchangeSpec.Types.Direct or ExchangeSpec.Types.Fanout))
        {
            throw new ExchangeTypeNotSupportedException($"Exchange type '{exchange.Type}' is not supported by the NATS transport (topic, direct, fanout).");
        }

        if (!exchange.Internal)
        {
            _ = NatsSubjectMapping.SubscribeSubjects(exchange.Name, exchange.Type, ""); // validates the name as a subject prefix
        }

        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (_exchanges.TryGetValue(exchange.Name, out var existing))
                {
                    if (existing.Spec.Type != exchange.Type || existing.Spec.Internal != exchange.Internal)
                    {
                        throw new PreconditionFailedException($"Exchange '{exchange.Name}' exists with type '{existing.Spec.Type}'.");
                    }

                    return;
                }

                _exchanges[exchange.Name] = new ExchangeState(exchange);
            }

            if (!exchange.Internal)
            {
                _topology.Report(TopologyChangeKind.ExchangeDeclared, exchange, null);
            }
        }
        finally
        {
            _topologyGate.Release();
        }
    }

    /// <summary>True for exchanges declared (or implicitly created by a binding) on this connection.</summary>
    public ValueTask<bool> ExchangeExistsAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        lock (_lock)
        {
            return ValueTask.FromResult(_exchanges.ContainsKey(name));
        }
    }

    public async ValueTask DeleteExchangeAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ExchangeState? removed;
            List<(ExchangeState Source, BindingSpec Binding)> inbound;
            lock (_lock)
            {
                if (!_exchanges.Remove(name, out removed))
                {
                    return;
                }

                inbound = BindingsTo(name, BindingDestinationKind.Exchange);
            }

            foreach (var sub in removed.Subscriptions.Values)
            {
                await SafeUnsubscribeAsync(sub.Subscription).ConfigureAwait(false);
            }

            foreach (var (source, binding) in inbound)
            {
                await RemoveBindingAsync(source, binding).ConfigureAwait(false);
            }

            if (!removed.Spec.Internal)
            {
                _topology.Report(TopologyChangeKind.ExchangeDeleted, removed.Spec, null);
            }
        }
        finally
        {
            _topologyGate.Release();
        }
    }

    public ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ThrowIfLost();
        lock (_lock)
        {
            if (!_queues.ContainsKey(queue.Name))
            {
                _queues[queue.Name] = new QueueState(queue);
            }
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            QueueState? removed;
            List<(ExchangeState Source, BindingSpec Binding)> inbound;
            lock (_lock)
            {
                if (!_queues.Remove(name, out removed))
                {
                    return;
                }

                inbound = BindingsTo(name, BindingDestinationKind.Queue);
            }

            foreach (var (source, binding) in inbound)
            {
                await RemoveBindingAsync(source, binding).ConfigureAwait(false);
            }

            removed.Delete();
        }
        finally
        {
            _topologyGate.Release();
        }
    }

    public async ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ThrowIfLost();
        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ExchangeState source;
            IReadOnlyList<string> subjects;
            var created = false;
            lock (_lock)
            {
                if (binding.DestinationKind == BindingDestinationKind.Queue ? !_queues.ContainsKey(binding.Destination) : !_exchanges.ContainsKey(binding.Destination))
                {
                    throw new ResourceNotFoundException($"No {(binding.DestinationKind == BindingDestinationKind.Queue ? "queue" : "exchange")} '{binding.Destination}' on this NATS connection.");
                }

                if (!_exchanges.TryGetValue(binding.Source, out source!))
                {
                    // Every subject namespace exists on NATS: binding an undeclared one treats it as a topic namespace.
                    source = new ExchangeState(new ExchangeSpec(binding.Source, ExchangeSpec.Types.Topic));
                    created = true;
                }

                subjects = source.Spec.Internal ? [] : NatsSubjectMapping.SubscribeSubjects(source.Spec.Name, source.Spec.Type, binding.RoutingKey);
                if (created)
                {
                    _exchanges[binding.Source] = source;
                }

                if (!source.Bindings.Add(binding))
                {
                    return;
                }
            }

            if (created)
            {
                _topology.Report(TopologyChangeKind.ExchangeDeclared, source.Spec, null);
            }

            foreach (var subject in subjects)
            {
                AddSubject(source, subject);
            }

            if (!source.Spec.Internal)
            {
                _topology.Report(TopologyChangeKind.BindingAdded, null, binding);
            }

            if (!noWait && subjects.Count > 0)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _topologyGate.Release();
        }
    }

    public async ValueTask UnbindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ThrowIfLost();
        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ExchangeState? source;
            lock (_lock)
            {
                if (!_exchanges.TryGetValue(binding.Source, out source) || !source.Bindings.Contains(binding))
                {
                    return;
                }
            }

            await RemoveBindingAsync(source, binding).ConfigureAwait(false);
            if (!noWait)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _topologyGate.Release();
        }
    }

    public ValueTask<IMessagePublisher> OpenPublisherAsync(PublisherOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfLost();
        return ValueTask.FromResult<IMessagePublisher>(new NatsPublisher(this, options.Confirms));
    }

    public ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfLost();
        QueueState? state;
        lock (_lock)
        {
            if (!_queues.TryGetValue(queue, out state))
            {
                throw new ResourceNotFoundException($"No queue '{queue}' on this NATS connection.");
            }
        }

        return ValueTask.FromResult<IMessageConsumer>(new NatsQueueConsumer(state, handler, _completion.Task));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _nats.ConnectionEvent -= OnConnectionEvent;
        await _topology.DisposeAsync().ConfigureAwait(false);
        await _nats.DisposeAsync().ConfigureAwait(false);
        lock (_lock)
        {
            foreach (var queue in _queues.Values)
            {
                queue.Close(null);
            }
        }

        _completion.TrySetResult();
        _topologyGate.Dispose();
    }

    /// <summary>
    /// Publishes with an encoded header block (empty: none), which the client copies before this returns. With
    /// <paramref name="confirm"/>, completes once the server has the message: one PING per socket write confirms every
    /// publish in it (group commit), and every publish of that write gets the same task (no per-message continuation).
    /// </summary>
    internal ValueTask PublishAsync(string subject, ReadOnlyMemory<byte> headerBlock, ReadOnlyMemory<byte> body, bool confirm, CancellationToken cancellationToken)
    {
        Task confirmed;
        try
        {
            ThrowIfLost();
            var sent = _nats.PublishEncodedAsync(subject, body, headerBlock, cancellationToken);
            if (!sent.IsCompletedSuccessfully)
            {
                return PublishSlowAsync(sent, confirm, cancellationToken);
            }

            sent.GetAwaiter().GetResult();
            if (!confirm)
            {
                return ValueTask.CompletedTask;
            }

            confirmed = _nats.FlushCoalescedAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException(ToPublishFailure(ex));
        }

        return confirmed.IsCompletedSuccessfully ? ValueTask.CompletedTask : new ValueTask(SharedConfirmation(confirmed));
    }

    private async ValueTask PublishSlowAsync(ValueTask sent, bool confirm, CancellationToken cancellationToken)
    {
        try
        {
            await sent.ConfigureAwait(false);
            if (confirm)
            {
                await _nats.FlushCoalescedAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NatsException ex)
        {
            throw ToPublishFailure(ex);
        }
    }

    // All publishes of one socket write wait for the same PONG: map its outcome once per write, not once per message,
    // so that thousands of in-flight confirms cost one continuation when the PONG arrives.
    private Task SharedConfirmation(Task flushed)
    {
        var shared = Volatile.Read(ref _sharedConfirmation);
        if (shared is null || shared.Flushed != flushed)
        {
            shared = new SharedConfirmationTask(flushed, flushed.ContinueWith(
                static t =>
                {
                    if (!t.IsCompletedSuccessfully)
                    {
                        throw ToPublishFailure(t.Exception?.InnerException ?? new TaskCanceledException(t));
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default));
            Volatile.Write(ref _sharedConfirmation, shared);
        }

        return shared.Confirmed;
    }

    private static Exception ToPublishFailure(Exception ex) => ex switch
    {
        NatsPayloadTooLargeException tooLarge => new PublishNackedException(tooLarge.Message, tooLarge),
        NatsException nats => new ConnectionLostException($"Publishing to NATS failed: {nats.Message}", nats),
        _ => ex,
    };

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _nats.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            throw new ConnectionLostException($"NATS flush failed: {ex.Message}", ex);
        }
    }

    private async ValueTask RemoveBindingAsync(ExchangeState source, BindingSpec binding)
    {
        IReadOnlyList<string> subjects;
        lock (_lock)
        {
            if (!source.Bindings.Remove(binding))
            {
                return;
            }

            subjects = source.Spec.Internal ? [] : NatsSubjectMapping.SubscribeSubjects(source.Spec.Name, source.Spec.Type, binding.RoutingKey);
        }

        foreach (var subject in subjects)
        {
            NatsSubscription? drop = null;
            lock (_lock)
            {
                if (source.Subscriptions.TryGetValue(subject, out var entry) && --entry.References == 0)
                {
                    source.Subscriptions.Remove(subject);
                    drop = entry.Subscription;
                }
            }

            if (drop is not null)
            {
                await SafeUnsubscribeAsync(drop).ConfigureAwait(false);
            }
        }

        if (!source.Spec.Internal)
        {
            _topology.Report(TopologyChangeKind.BindingRemoved, null, binding);
        }
    }

    private void AddSubject(ExchangeState source, string subject)
    {
        SubscriptionEntry entry;
        lock (_lock)
        {
            if (source.Subscriptions.TryGetValue(subject, out var existing))
            {
                existing.References++;
                return;
            }

            // Registered before the SUB goes out, so the very first MSG already finds its entry.
            entry = new SubscriptionEntry(Interlocked.Increment(ref _nextSubscriptionId), subject);
            source.Subscriptions[subject] = entry;
        }

        try
        {
            // Routing only offers to in-process queues (never blocks), so it runs on the read loop: no extra buffer and hop.
            entry.Subscription = _nats.SubscribeInline(subject, msg => Route(source, entry, msg));
        }
        catch
        {
            lock (_lock)
            {
                source.Subscriptions.Remove(subject);
            }

            throw;
        }
    }

    /// <summary>Routes one MSG that arrived on <paramref name="via"/>, unless a lower-id subscription of the same exchange also matches it.</summary>
    private void Route(ExchangeState source, SubscriptionEntry via, NatsMsg msg)
    {
        if (!NatsSubjectMapping.TryGetRoutingKey(source.Spec.Name, msg.Subject, out var routingKey))
        {
            return;
        }

        // Route runs synchronously on a read loop: per-thread scratch sets instead of two new sets per message.
        var targets = t_targets ??= [];
        var visited = t_visited ??= new HashSet<string>(StringComparer.Ordinal);
        targets.Clear();
        visited.Clear();
        lock (_lock)
        {
            if (!source.Subscriptions.TryGetValue(via.Subject, out var current) || current != via)
            {
                return;
            }

            foreach (var other in source.Subscriptions.Values)
            {
                if (other.Id < via.Id && NatsSubjectMapping.SubjectMatches(other.Subject, msg.Subject))
                {
                    return; // that subscription routes this message
                }
            }

            CollectTargets(source, routingKey, targets, visited);
        }

        foreach (var queue in targets)
        {
            queue.Offer(new QueuedMessage(source.Spec.Name, routingKey, msg.Headers, msg.Data));
        }

        targets.Clear();
    }

    private void CollectTargets(ExchangeState exchange, string routingKey, HashSet<QueueState> targets, HashSet<string> visited)
    {
        if (!visited.Add(exchange.Spec.Name))
        {
            return;
        }

        foreach (var binding in exchange.Bindings)
        {
            if (!NatsSubjectMapping.Routes(exchange.Spec.Type, binding.RoutingKey, routingKey))
            {
                continue;
            }

            if (binding.DestinationKind == BindingDestinationKind.Queue)
            {
                if (_queues.TryGetValue(binding.Destination, out var queue))
                {
                    targets.Add(queue);
                }
            }
            else if (_exchanges.TryGetValue(binding.Destination, out var next))
            {
                CollectTargets(next, routingKey, targets, visited);
            }
        }
    }

    private static async ValueTask SafeUnsubscribeAsync(NatsSubscription? subscription)
    {
        if (subscription is null)
        {
            return;
        }

        try
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
        }
        catch (NatsException)
        {
            // The connection is going away; the server drops the subscription with it.
        }
    }

    private void OnConnectionEvent(object? sender, NatsConnectionEventArgs e)
    {
        if (e.Kind is NatsConnectionEventKind.Disconnected or NatsConnectionEventKind.Closed && Volatile.Read(ref _disposed) == 0)
        {
            Lost();
        }
    }

    private void Lost()
    {
        var error = new ConnectionLostException("The NATS connection was lost.");
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
                catch (NatsException)
                {
                }
            });
        }
    }

    private void ThrowIfLost()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_completion.Task.IsFaulted)
        {
            throw new ConnectionLostException("The NATS connection was lost.");
        }
    }

    private sealed class ExchangeState(ExchangeSpec spec)
    {
        public ExchangeSpec Spec { get; } = spec;

        public HashSet<BindingSpec> Bindings { get; } = [];

        public Dictionary<string, SubscriptionEntry> Subscriptions { get; } = new(StringComparer.Ordinal);
    }

    private sealed class SubscriptionEntry(long id, string subject)
    {
        public long Id { get; } = id;

        public string Subject { get; } = subject;

        public int References { get; set; } = 1;

        public NatsSubscription? Subscription { get; set; }
    }

    private sealed class NatsPublisher(NatsBrokerConnection connection, bool confirms) : IMessagePublisher
    {
        [ThreadStatic]
        private static ArrayBufferWriter<byte>? t_headerBlock;

        public ValueTask PublishAsync(string exchange, string routingKey, MessageProperties properties, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(properties);
            var subject = NatsSubjectMapping.PublishSubject(exchange, routingKey);

            // The header block goes straight from the properties into a per-thread buffer (no NatsHeaders, no
            // dictionary): the client copies it into its send buffer before PublishAsync first yields.
            var block = t_headerBlock ??= new ArrayBufferWriter<byte>(512);
            block.ResetWrittenCount();
            NatsMessageMapping.WriteHeaderBlock(properties, block);
            return connection.PublishAsync(subject, block.WrittenMemory, body, confirms, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed record SharedConfirmationTask(Task Flushed, Task Confirmed);

    internal sealed record QueuedMessage(string Exchange, string RoutingKey, NatsHeaders? Headers, ReadOnlyMemory<byte> Body);

    /// <summary>
    /// An emulated queue: at most <see cref="QueueCapacity"/> messages, drop-new when full. The read loop (writer) and
    /// the consumer (reader) share no lock on the way of a message: it is a lock-free queue with an interlocked count,
    /// and the writer wakes the reader only when the reader has parked on an empty queue (a channel takes its lock on
    /// every write, which the two threads contended for on each message).
    /// </summary>
    /// <remarks>
    /// No lost wake-up: a reader publishes <c>_parked</c> (full fence) before it checks the queue once more, and a writer
    /// enqueues (full fence) before it reads <c>_parked</c>, so at least one of them sees the other. Whoever turns
    /// <c>_parked</c> from 1 to 0 completes the wake-up every parked reader waits on.
    /// </remarks>
    internal sealed class QueueState(QueueSpec spec)
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<QueuedMessage> _items = new();
        private readonly Lock _gate = new();
        private TaskCompletionSource? _wake;
        private int _parked;
        private int _count;
        private bool _closed;
        private Exception? _closeError;

        public QueueSpec Spec { get; } = spec;

        /// <summary>Waits until a message can be taken; false once the queue is closed and empty (throws if it was closed with an error).</summary>
        public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) =>
            _items.IsEmpty ? WaitSlowAsync(cancellationToken) : ValueTask.FromResult(true);

        /// <summary>Takes the oldest message, if any.</summary>
        public bool TryTake([System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out QueuedMessage message)
        {
            if (!_items.TryDequeue(out message))
            {
                return false;
            }

            Interlocked.Decrement(ref _count);
            return true;
        }

        /// <summary>Adds a message unless the queue is full or closed (the message is then dropped: at-most-once).</summary>
        public void Offer(QueuedMessage message)
        {
            if (Volatile.Read(ref _closed) || Interlocked.Increment(ref _count) > QueueCapacity)
            {
                Interlocked.Decrement(ref _count);
                return;
            }

            _items.Enqueue(message);
            Interlocked.MemoryBarrier(); // the enqueue is visible before _parked is read (see the remarks)
            if (Volatile.Read(ref _parked) != 0)
            {
                Wake();
            }
        }

        public void Delete() => Close(new ResourceNotFoundException($"Queue '{Spec.Name}' was deleted."));

        /// <summary>Closes the queue: readers take what is left, then get false (or <paramref name="error"/>).</summary>
        public void Close(Exception? error)
        {
            TaskCompletionSource? wake;
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                _closeError = error;
                Volatile.Write(ref _closed, true);
                wake = _wake;
                _wake = null;
            }

            Volatile.Write(ref _parked, 0);
            wake?.TrySetResult();
        }

        private async ValueTask<bool> WaitSlowAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                if (!_items.IsEmpty)
                {
                    return true;
                }

                TaskCompletionSource wake;
                lock (_gate)
                {
                    if (_closed)
                    {
                        if (!_items.IsEmpty)
                        {
                            return true;
                        }

                        return _closeError is null ? false : throw _closeError;
                    }

                    wake = _wake ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                Interlocked.Exchange(ref _parked, 1);
                if (!_items.IsEmpty)
                {
                    Wake(); // a message arrived between the check and parking: do not wait for a writer that saw no reader
                }

                await wake.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        private void Wake()
        {
            if (Interlocked.Exchange(ref _parked, 0) == 0)
            {
                return; // someone else woke the readers
            }

            TaskCompletionSource? wake;
            lock (_gate)
            {
                wake = _wake;
                _wake = null;
            }

            wake?.TrySetResult();
        }
    }

    /// <summary>Every binding whose destination is <paramref name="destination"/>, with its source. Call under <c>_lock</c>.</summary>
    private List<(ExchangeState Source, BindingSpec Binding)> BindingsTo(string destination, BindingDestinationKind kind) =>
        [.. _exchanges.Values.SelectMany(e => e.Bindings.Where(b => b.DestinationKind == kind && b.Destination == destination).Select(b => (e, b)))];
}
