using Federation.Core.Addressing;
using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>
/// Routes on topic patterns. Matching every binding is linear in the number of bindings, so the matches per routing key are
/// cached; any binding change clears the cache, and the cache is bounded because routing keys may be unbounded (ids in keys).
/// </summary>
internal sealed class TopicExchange(ExchangeSpec spec) : BrokerExchange(spec)
{
    private const int MaxCachedRoutingKeys = 4096;

    private readonly Dictionary<string, BrokerBinding[]> matchesByRoutingKey = new(StringComparer.Ordinal);

    public override void Route(string routingKey, MessageProperties properties, RoutingTargets targets)
    {
        if (!matchesByRoutingKey.TryGetValue(routingKey, out var matches))
        {
            matches = MatchingBindings(routingKey);
            if (matchesByRoutingKey.Count >= MaxCachedRoutingKeys)
            {
                matchesByRoutingKey.Clear();
            }

            matchesByRoutingKey[routingKey] = matches;
        }

        foreach (var binding in matches)
        {
            targets.Add(binding);
        }
    }

    // A separate method, because a lambda capturing routingKey in Route would allocate its closure on every call, cache hit or not.
    private BrokerBinding[] MatchingBindings(string routingKey) => [.. Bindings.Where(b => TopicGrammar.Matches(b.Spec.RoutingKey, routingKey))];

    protected override void OnBindingAdded(BrokerBinding binding) => matchesByRoutingKey.Clear();

    protected override void OnBindingRemoved(BrokerBinding binding) => matchesByRoutingKey.Clear();
}
