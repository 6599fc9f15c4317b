using Federation.Core.Transport;

namespace Federation.Core.Topology;

/// <summary>
/// Explicit mode: the host application declares the downstream exchanges and bindings that federation should know about,
/// instead of the engine observing the downstream broker (on AMQP that needs <c>rabbitmq_management</c> and
/// <c>rabbitmq_event_exchange</c>). Pass it to <see cref="FederationEngine"/> (or
/// <see cref="Hosting.FederationServiceCollectionExtensions.UseExplicitTopology"/>): the engine declares these exchanges
/// and bindings on the downstream broker, again after every reconnect, starts links for the exchanges that policies
/// match, and propagates the bindings upstream. Bindings that other clients make on the downstream broker are not seen.
/// </summary>
/// <remarks>
/// Thread-safe. Calls take effect in call order; they change what the engine wants and return at once, and the engine
/// applies them to the broker in the background (a broker that refuses one, for example a binding to a queue that does
/// not exist, is logged and does not stop the others). Declare a queue yourself before binding it.
/// </remarks>
public sealed class ExplicitTopology : ITopologySource
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ExchangeSpec> _exchanges = new(StringComparer.Ordinal);
    private readonly List<BindingSpec> _bindings = [];
    private readonly List<Action<TopologyChange>> _subscribers = [];
    private long _serial;

    /// <summary>The declared exchanges.</summary>
    public IReadOnlyList<ExchangeSpec> Exchanges
    {
        get
        {
            lock (_gate)
            {
                return [.. _exchanges.Values];
            }
        }
    }

    /// <summary>The declared bindings.</summary>
    public IReadOnlyList<BindingSpec> Bindings
    {
        get
        {
            lock (_gate)
            {
                return [.. _bindings];
            }
        }
    }

    /// <summary>Declares an exchange, or redeclares it with new properties. Redeclaring it unchanged does nothing.</summary>
    /// <param name="exchange">The exchange; a federation policy must match its name for it to be federated.</param>
    /// <exception cref="ArgumentException">The exchange has no name (the default exchange cannot be federated).</exception>
    public void DeclareExchange(ExchangeSpec exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        if (string.IsNullOrEmpty(exchange.Name))
        {
            throw new ArgumentException("The default exchange (empty name) cannot be federated; give the exchange a name.", nameof(exchange));
        }

        lock (_gate)
        {
            if (_exchanges.TryGetValue(exchange.Name, out var existing) && existing == exchange)
            {
                return;
            }

            _exchanges[exchange.Name] = exchange;
            Publish(TopologyChangeKind.ExchangeDeclared, exchange, null);
        }
    }

    /// <summary>Deletes an exchange with every binding from or to it; its links stop and clean up. Unknown names do nothing.</summary>
    /// <param name="name">The exchange name.</param>
    public void DeleteExchange(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_gate)
        {
            if (!_exchanges.Remove(name, out var removed))
            {
                return;
            }

            _bindings.RemoveAll(b => b.Source == name || (b.DestinationKind == BindingDestinationKind.Exchange && b.Destination == name));
            Publish(TopologyChangeKind.ExchangeDeleted, removed, null);
        }
    }

    /// <summary>Adds a binding from a declared exchange to a queue or exchange. Adding an existing binding does nothing.</summary>
    /// <param name="binding">The binding: source exchange, destination, routing key and arguments.</param>
    /// <exception cref="ArgumentException">The source exchange, or the destination exchange, was not declared here.</exception>
    public void Bind(BindingSpec binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        lock (_gate)
        {
            if (!_exchanges.ContainsKey(binding.Source))
            {
                throw new ArgumentException($"Bind: the source exchange '{binding.Source}' is not declared; call DeclareExchange first.", nameof(binding));
            }

            if (binding.DestinationKind == BindingDestinationKind.Exchange && !_exchanges.ContainsKey(binding.Destination))
            {
                throw new ArgumentException($"Bind: the destination exchange '{binding.Destination}' is not declared; call DeclareExchange first.", nameof(binding));
            }

            if (_bindings.Contains(binding))
            {
                return;
            }

            _bindings.Add(binding);
            Publish(TopologyChangeKind.BindingAdded, null, binding);
        }
    }

    /// <summary>Removes a binding (matched on source, destination, routing key and arguments). Unknown bindings do nothing.</summary>
    /// <param name="binding">The binding to remove.</param>
    public void Unbind(BindingSpec binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        lock (_gate)
        {
            if (_bindings.Remove(binding))
            {
                Publish(TopologyChangeKind.BindingRemoved, null, binding);
            }
        }
    }

    /// <inheritdoc />
    public IDisposable Subscribe(Action<TopologyChange> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        lock (_gate)
        {
            _subscribers.Add(onChange);
        }

        return new Subscription(this, onChange);
    }

    /// <inheritdoc />
    public ValueTask<TopologySnapshot> GetSnapshotAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return ValueTask.FromResult(new TopologySnapshot(_serial, [.. _exchanges.Values], [.. _bindings]));
        }
    }

    /// <summary>Called under the lock, so subscribers see changes in serial order; they must not block (see <see cref="ITopologySource"/>).</summary>
    private void Publish(TopologyChangeKind kind, ExchangeSpec? exchange, BindingSpec? binding)
    {
        var change = new TopologyChange(++_serial, kind, exchange, binding);
        foreach (var subscriber in _subscribers)
        {
            subscriber(change);
        }
    }

    private sealed class Subscription(ExplicitTopology owner, Action<TopologyChange> onChange) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._subscribers.Remove(onChange);
            }
        }
    }
}
