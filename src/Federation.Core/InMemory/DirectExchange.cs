using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>Routes on routing-key equality, through an index by binding key.</summary>
internal sealed class DirectExchange(ExchangeSpec spec) : BrokerExchange(spec)
{
    private readonly Dictionary<string, List<BrokerBinding>> bindingsByKey = new(StringComparer.Ordinal);

    public override void Route(string routingKey, MessageProperties properties, RoutingTargets targets)
    {
        if (bindingsByKey.TryGetValue(routingKey, out var bindings))
        {
            foreach (var binding in bindings)
            {
                targets.Add(binding);
            }
        }
    }

    protected override void OnBindingAdded(BrokerBinding binding)
    {
        if (!bindingsByKey.TryGetValue(binding.Spec.RoutingKey, out var bindings))
        {
            bindingsByKey[binding.Spec.RoutingKey] = bindings = [];
        }

        bindings.Add(binding);
    }

    protected override void OnBindingRemoved(BrokerBinding binding)
    {
        var bindings = bindingsByKey[binding.Spec.RoutingKey];
        bindings.Remove(binding);
        if (bindings.Count == 0)
        {
            bindingsByKey.Remove(binding.Spec.RoutingKey);
        }
    }
}
