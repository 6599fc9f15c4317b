using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.JetStream;

/// <summary>
/// The exchanges, queues and bindings of one JetStream connection, kept on the client. In JetStream mode a stream captures
/// everything published to an exchange's subjects, so bindings do not subscribe anything: they decide, per message, whether
/// the message reaches a queue (<see cref="Routes"/>), with the same AMQP rules as the core emulation
/// (<see cref="NatsSubjectMapping.Routes"/>), following exchange-to-exchange bindings.
/// </summary>
/// <remarks>Thread-safe. The routing is read for every consumed message; changes are rare (binding commands).</remarks>
internal sealed class JetStreamBindingGraph
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ExchangeSpec> _exchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<BindingSpec>> _bySource = new(StringComparer.Ordinal);
    private readonly HashSet<string> _queues = new(StringComparer.Ordinal);

    /// <summary>Records an exchange's type (a binding from an exchange never declared here treats it as topic, as NATS subjects are).</summary>
    public void DeclareExchange(ExchangeSpec exchange)
    {
        lock (_lock)
        {
            _exchanges[exchange.Name] = exchange;
        }
    }

    /// <summary>Whether an exchange was declared on this connection.</summary>
    public bool HasExchange(string name)
    {
        lock (_lock)
        {
            return _exchanges.ContainsKey(name);
        }
    }

    /// <summary>Whether an exchange was declared internal (it has no subjects).</summary>
    public bool IsInternal(string name)
    {
        lock (_lock)
        {
            return _exchanges.TryGetValue(name, out var spec) && spec.Internal;
        }
    }

    /// <summary>Whether an exchange was declared non-durable on this connection (one never declared here counts as durable).</summary>
    public bool IsDeclaredNonDurable(string name)
    {
        lock (_lock)
        {
            return _exchanges.TryGetValue(name, out var spec) && !spec.Durable;
        }
    }

    /// <summary>Forgets an exchange with every binding from or to it.</summary>
    public void DeleteExchange(string name)
    {
        lock (_lock)
        {
            _exchanges.Remove(name);
            _bySource.Remove(name);
            RemoveBindingsTo(name, BindingDestinationKind.Exchange);
        }
    }

    /// <summary>Records a queue.</summary>
    public void DeclareQueue(string name)
    {
        lock (_lock)
        {
            _queues.Add(name);
        }
    }

    /// <summary>Whether a queue was declared on this connection.</summary>
    public bool HasQueue(string name)
    {
        lock (_lock)
        {
            return _queues.Contains(name);
        }
    }

    /// <summary>Forgets a queue with every binding to it.</summary>
    public void DeleteQueue(string name)
    {
        lock (_lock)
        {
            _queues.Remove(name);
            RemoveBindingsTo(name, BindingDestinationKind.Queue);
        }
    }

    /// <summary>The type of a source exchange: declared, or topic.</summary>
    public string TypeOf(string exchange)
    {
        lock (_lock)
        {
            return _exchanges.TryGetValue(exchange, out var spec) ? spec.Type : ExchangeSpec.Types.Topic;
        }
    }

    /// <summary>Adds a binding; false when it existed.</summary>
    public bool Bind(BindingSpec binding)
    {
        lock (_lock)
        {
            if (!_bySource.TryGetValue(binding.Source, out var bindings))
            {
                _bySource[binding.Source] = bindings = [];
            }

            return bindings.Add(binding);
        }
    }

    /// <summary>Removes a binding; false when it did not exist.</summary>
    public bool Unbind(BindingSpec binding)
    {
        lock (_lock)
        {
            return _bySource.TryGetValue(binding.Source, out var bindings) && bindings.Remove(binding);
        }
    }

    /// <summary>
    /// The exchanges whose subjects reach <paramref name="queue"/>: the non-internal exchanges from which a chain of bindings
    /// leads to it (internal exchanges have no subjects; they only pass on what reaches them).
    /// </summary>
    public IReadOnlyList<string> SourcesOf(string queue)
    {
        lock (_lock)
        {
            var sources = new List<string>();
            foreach (var source in _bySource.Keys)
            {
                if (!(_exchanges.TryGetValue(source, out var spec) && spec.Internal) && Reaches(source, queue, routingKey: null, []))
                {
                    sources.Add(source);
                }
            }

            return sources;
        }
    }

    /// <summary>Whether a message published to <paramref name="exchange"/> with <paramref name="routingKey"/> reaches <paramref name="queue"/>.</summary>
    public bool Routes(string exchange, string routingKey, string queue)
    {
        lock (_lock)
        {
            return Reaches(exchange, queue, routingKey, []);
        }
    }

    /// <summary>Follows bindings from <paramref name="exchange"/>; a null routing key follows every binding.</summary>
    private bool Reaches(string exchange, string queue, string? routingKey, HashSet<string> visited)
    {
        if (!visited.Add(exchange) || !_bySource.TryGetValue(exchange, out var bindings))
        {
            return false;
        }

        var type = _exchanges.TryGetValue(exchange, out var spec) ? spec.Type : ExchangeSpec.Types.Topic;
        foreach (var binding in bindings)
        {
            if (routingKey is not null && !NatsSubjectMapping.Routes(type, binding.RoutingKey, routingKey))
            {
                continue;
            }

            if (binding.DestinationKind == BindingDestinationKind.Queue
                ? binding.Destination == queue
                : Reaches(binding.Destination, queue, routingKey, visited))
            {
                return true;
            }
        }

        return false;
    }

    private void RemoveBindingsTo(string destination, BindingDestinationKind kind)
    {
        foreach (var bindings in _bySource.Values)
        {
            bindings.RemoveWhere(b => b.DestinationKind == kind && b.Destination == destination);
        }
    }
}
