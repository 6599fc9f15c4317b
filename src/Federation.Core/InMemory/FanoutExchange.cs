using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>Routes every message to every binding.</summary>
internal class FanoutExchange(ExchangeSpec spec) : BrokerExchange(spec)
{
    public override void Route(string routingKey, MessageProperties properties, RoutingTargets targets)
    {
        foreach (var binding in Bindings)
        {
            targets.Add(binding);
        }
    }
}
