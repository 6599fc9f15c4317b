using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// The emulated topology: declaring and deleting exchanges and queues, and binding and unbinding them. Changes are
/// serialised by <c>_topologyGate</c> (they await the server) and the state they change is guarded by <c>_lock</c> (the
/// read loops route under it); changes to non-internal objects are reported to <see cref="Topology"/>.
/// </summary>
internal sealed partial class NatsBrokerConnection
{
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

                _exchanges[exchange.Name] = new NatsEmulatedExchange(exchange);
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
            if (!TryTakeOut(_exchanges, name, BindingDestinationKind.Exchange, out var removed, out var inbound))
            {
                return;
            }

            foreach (var sub in removed.Subscriptions.Values)
            {
                await SafeUnsubscribeAsync(sub).ConfigureAwait(false);
            }

            await RemoveBindingsAsync(inbound).ConfigureAwait(false);

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
                _queues[queue.Name] = new NatsEmulatedQueue(queue);
            }
        }

        return ValueTask.CompletedTask;
    }

    // How many messages a deletion discards is left unknown (the interface's default for DeleteQueueCountingDiscardedAsync):
    // what the emulated queue still holds is reported to its consumers as dropped when the connection closes (see
    // DisposeAsync), and counting it here too would count it twice.
    public async ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        await _topologyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!TryTakeOut(_queues, name, BindingDestinationKind.Queue, out var removed, out var inbound))
            {
                return;
            }

            await RemoveBindingsAsync(inbound).ConfigureAwait(false);

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
            NatsEmulatedExchange source;
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
                    source = new NatsEmulatedExchange(new ExchangeSpec(binding.Source, ExchangeSpec.Types.Topic));
                    created = true;
                }

                subjects = source.SubjectsFor(binding);
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
                await AddSubjectAsync(source, subject, cancellationToken).ConfigureAwait(false);
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
            NatsEmulatedExchange? source;
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

    private async ValueTask RemoveBindingAsync(NatsEmulatedExchange source, BindingSpec binding)
    {
        IReadOnlyList<string> subjects;
        lock (_lock)
        {
            if (!source.Bindings.Remove(binding))
            {
                return;
            }

            subjects = source.SubjectsFor(binding);
        }

        foreach (var subject in subjects)
        {
            await RemoveSubjectAsync(source, subject).ConfigureAwait(false);
        }

        if (!source.Spec.Internal)
        {
            _topology.Report(TopologyChangeKind.BindingRemoved, null, binding);
        }
    }

    /// <summary>
    /// Takes <paramref name="name"/> out of <paramref name="objects"/> (the exchanges or the queues), with the bindings to it
    /// that are still to be removed from their sources (see <see cref="RemoveBindingsAsync"/>); false when there is none.
    /// </summary>
    private bool TryTakeOut<T>(Dictionary<string, T> objects, string name, BindingDestinationKind kind, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? removed, out List<(NatsEmulatedExchange Source, BindingSpec Binding)> inbound)
        where T : class
    {
        lock (_lock)
        {
            if (!objects.Remove(name, out removed))
            {
                inbound = [];
                return false;
            }

            inbound = BindingsTo(name, kind);
            return true;
        }
    }

    /// <summary>Removes <paramref name="bindings"/>, each from its source, one after the other.</summary>
    private async ValueTask RemoveBindingsAsync(List<(NatsEmulatedExchange Source, BindingSpec Binding)> bindings)
    {
        foreach (var (source, binding) in bindings)
        {
            await RemoveBindingAsync(source, binding).ConfigureAwait(false);
        }
    }

    /// <summary>Every binding whose destination is <paramref name="destination"/>, with its source. Call under <c>_lock</c>.</summary>
    private List<(NatsEmulatedExchange Source, BindingSpec Binding)> BindingsTo(string destination, BindingDestinationKind kind) =>
        [.. _exchanges.Values.SelectMany(e => e.Bindings.Where(b => b.DestinationKind == kind && b.Destination == destination).Select(b => (e, b)))];

    /// <summary>One PING/PONG: the server has processed everything this connection sent before it.</summary>
    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        var ping = _nats.PingAsync(cancellationToken).AsTask();
        if (await Task.WhenAny(ping, _completion.Task).ConfigureAwait(false) != ping)
        {
            ThrowIfLost();
        }

        try
        {
            await ping.ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            throw new ConnectionLostException($"NATS flush failed: {NatsErrorText.Message(ex, _nats.Opts)}", NatsErrorText.SafeInner(ex, _nats.Opts));
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The client cancels the PINGs pending on a socket that died (often before its disconnect event marks this
            // connection lost): that is a lost connection, not a cancellation the caller asked for.
            throw new ConnectionLostException("NATS flush failed: the connection was lost before the server answered.", ex);
        }
    }
}
