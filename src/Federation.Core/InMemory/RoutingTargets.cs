namespace Federation.Core.InMemory;

/// <summary>
/// The destinations one publish reaches. A virtual host reuses one instance under its lock, so routing does not allocate;
/// the sets make each queue receive a message at most once and let exchange-to-exchange cycles terminate.
/// </summary>
internal sealed class RoutingTargets
{
    private readonly HashSet<BrokerExchange> visited = [];
    private readonly Stack<BrokerExchange> pending = new();

    public HashSet<BrokerQueue> Queues { get; } = [];

    public void Start(BrokerExchange exchange)
    {
        Queues.Clear();
        visited.Clear();
        pending.Clear();
        pending.Push(exchange);
    }

    public bool TryTakeNextExchange(out BrokerExchange exchange)
    {
        while (pending.TryPop(out exchange!))
        {
            if (visited.Add(exchange))
            {
                return true;
            }
        }

        return false;
    }

    public void Add(BrokerBinding binding)
    {
        if (binding.Queue is { } queue)
        {
            Queues.Add(queue);
        }
        else if (!visited.Contains(binding.Exchange!))
        {
            pending.Push(binding.Exchange!);
        }
    }
}
