using Federation.Core.Collectives;

namespace Federation.Core.Hosting;

/// <summary>
/// The federation broker instances a host runs (those added with <c>AddFederationBroker</c>), for health checks and status
/// pages. A singleton registered by <c>AddFederationBroker</c>; an instance is listed from its start to its stop. Thread-safe.
/// </summary>
public sealed class FederationBrokerInstances
{
    private readonly Lock _lock = new();
    private readonly List<FederationBroker> _brokers = [];

    /// <summary>The instances started and not yet stopped, in start order.</summary>
    public IReadOnlyList<FederationBroker> GetBrokers()
    {
        lock (_lock)
        {
            return [.. _brokers];
        }
    }

    internal void Add(FederationBroker broker)
    {
        lock (_lock)
        {
            _brokers.Add(broker);
        }
    }

    internal void Remove(FederationBroker broker)
    {
        lock (_lock)
        {
            _brokers.Remove(broker);
        }
    }
}
