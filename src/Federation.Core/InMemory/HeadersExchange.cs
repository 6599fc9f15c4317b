using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>Routes on message headers against each binding's arguments (see <see cref="HeadersMatcher"/>).</summary>
internal sealed class HeadersExchange(ExchangeSpec spec) : BrokerExchange(spec)
{
    public override void Route(string routingKey, MessageProperties properties, RoutingTargets targets)
    {
        foreach (var binding in Bindings)
        {
            if (HeadersMatcher.Matches(binding.Spec.Arguments, properties.Headers))
            {
                targets.Add(binding);
            }
        }
    }
}
