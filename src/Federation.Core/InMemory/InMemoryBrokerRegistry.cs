using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Federation.Core.InMemory;

/// <summary>The in-memory brokers an <see cref="InMemoryTransport"/> can reach, by name (case-insensitive, like host names). Thread-safe.</summary>
/// <param name="timeProvider">Clock and timers for the brokers <see cref="GetOrAdd"/> creates; defaults to <see cref="TimeProvider.System"/>.</param>
public sealed class InMemoryBrokerRegistry(TimeProvider? timeProvider = null)
{
    private readonly ConcurrentDictionary<string, InMemoryBroker> brokers = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Registers a broker.</summary>
    /// <exception cref="ArgumentException">A broker with the same name is already registered.</exception>
    public void Add(InMemoryBroker broker)
    {
        ArgumentNullException.ThrowIfNull(broker);
        if (!brokers.TryAdd(broker.Name, broker))
        {
            throw new ArgumentException($"An in-memory broker named '{broker.Name}' is already registered.", nameof(broker));
        }
    }

    /// <summary>Returns the broker named <paramref name="name"/>, creating and registering it when missing.</summary>
    /// <param name="name">Broker name.</param>
    /// <param name="clusterName">Cluster name of a newly created broker; ignored when it exists.</param>
    public InMemoryBroker GetOrAdd(string name, string? clusterName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return brokers.GetOrAdd(name, static (brokerName, state) => new InMemoryBroker(brokerName, state.clusterName, state.timeProvider), (clusterName, timeProvider));
    }

    /// <summary>The registered brokers' names, sorted, for messages that say which exist.</summary>
    internal IReadOnlyList<string> Names => [.. brokers.Keys.Order(StringComparer.OrdinalIgnoreCase)];

    /// <summary>Looks a broker up by name.</summary>
    public bool TryGet(string name, [MaybeNullWhen(false)] out InMemoryBroker broker) => brokers.TryGetValue(name, out broker);
}
