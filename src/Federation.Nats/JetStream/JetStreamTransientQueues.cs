using System.Collections.Concurrent;
using Federation.Core.Transport;

namespace Federation.Nats.JetStream;

/// <summary>
/// The exclusive queues of one JetStream connection and the bindings to them. An exclusive queue belongs to its connection
/// and dies with it, so in JetStream mode it stays what the core transport makes of it (an in-process buffer fed by core
/// NATS subscriptions) instead of a durable consumer on a stream: a durable consumer would outlive the connection, one per
/// connection ever opened, and its stream would keep every message forever. The instances' presence heartbeats are the
/// case in point.
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class JetStreamTransientQueues
{
    private readonly ConcurrentDictionary<string, byte> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<BindingSpec, byte> _bindings = new();

    /// <summary>Whether <paramref name="queue"/> is to be declared as a transient (core) queue.</summary>
    public static bool IsTransient(QueueSpec queue) => queue.Exclusive;

    /// <summary>Records a transient queue.</summary>
    public void Declare(string queue) => _queues.TryAdd(queue, 0);

    /// <summary>Whether <paramref name="queue"/> was declared transient on this connection.</summary>
    public bool Contains(string queue) => _queues.ContainsKey(queue);

    /// <summary>Whether <paramref name="binding"/> ends at a transient queue.</summary>
    public bool Targets(BindingSpec binding) => binding.DestinationKind == BindingDestinationKind.Queue && Contains(binding.Destination);

    /// <summary>Forgets a transient queue with the bindings to it.</summary>
    public void Delete(string queue)
    {
        _queues.TryRemove(queue, out _);
        foreach (var binding in _bindings.Keys.Where(b => b.Destination == queue && b.DestinationKind == BindingDestinationKind.Queue))
        {
            _bindings.TryRemove(binding, out _);
        }
    }

    /// <summary>Records a binding to a transient queue.</summary>
    public void Bind(BindingSpec binding) => _bindings.TryAdd(binding, 0);

    /// <summary>Forgets a binding to a transient queue.</summary>
    public void Unbind(BindingSpec binding) => _bindings.TryRemove(binding, out _);

    /// <summary>Whether a transient queue is bound to <paramref name="exchange"/> on this connection.</summary>
    public bool AreBoundTo(string exchange) => !_bindings.IsEmpty && _bindings.Keys.Any(b => b.Source == exchange);
}
