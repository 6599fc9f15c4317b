using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>
/// Finds upstream elements that one policy would link and that would share one upstream queue and internal exchange.
/// Upstream queue names depend on the upstream exchange and the downstream (not on the upstream's name), so two elements
/// of one policy that reach the same broker and virtual host with the same upstream exchange would consume from one
/// queue, each getting part of the messages, and restart each other at the internal-exchange check.
/// </summary>
internal static class UpstreamQueueSharing
{
    /// <summary>
    /// Adds one error per element that would share a queue with an earlier element of the same policy, naming the first
    /// such element. Expects options that are otherwise valid.
    /// </summary>
    /// <remarks>
    /// One error per element, not per pair, and each URI read once: a configuration with many upstreams on one broker (a
    /// template that gave them all one URI) made one error per pair, n(n-1)/2 of them, and compared every pair's URIs
    /// anew. A black-box run with 3,000 such upstreams ran out of memory in <c>validate</c> after 55 s (a reload runs the
    /// same check in the running host), and 5,000 distinct upstreams took 23 s to validate.
    /// </remarks>
    public static void Validate(FederationOptions options, ICollection<string> errors)
    {
        var reported = new HashSet<(string, string)>();
        foreach (var (policyName, policy) in options.Policies.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!PolicyKeys.AppliesToExchanges(policy.ApplyTo))
            {
                continue;
            }

            // The first element (in order) that reaches each (upstream exchange, broker).
            var firstOn = new Dictionary<(string? Exchange, string Broker), (string Path, ResolvedUpstream Upstream)>();
            foreach (var element in ElementsOf(policy.Definition, options))
            {
                var brokers = element.Upstream.Uris
                    .Select(uri => (Uri: uri, Broker: UpstreamBroker.Of(uri)))
                    .Where(b => b.Broker is not null)
                    .ToList();
                var shared = brokers
                    .Select(b => (b.Uri, First: firstOn.TryGetValue((element.Upstream.Exchange, b.Broker!), out var first) ? first : default))
                    .FirstOrDefault(b => b.First.Path is not null);
                if (shared.First.Path is { } firstPath && reported.Add((firstPath, element.Path)))
                {
                    var exchange = element.Upstream.Exchange is { } name ? Quote(name) : "(the federated exchange's name)";
                    errors.Add(At(
                        element.Path,
                        $"upstream {Quote(element.Upstream.UpstreamName)} would share one upstream queue and internal exchange with "
                        + $"{firstPath} (upstream {Quote(shared.First.Upstream.UpstreamName)}) under "
                        + $"{Child(nameof(FederationOptions.Policies), policyName)}: both reach {Quote(shared.Uri)} with the same "
                        + $"upstream exchange {exchange}; give one of them another exchange, or remove one"));
                }

                foreach (var (_, broker) in brokers)
                {
                    firstOn.TryAdd((element.Upstream.Exchange, broker!), element);
                }
            }
        }
    }

    // The distinct upstream elements the policy links, each with the key path that defines it. Equal elements make one
    // link at run time (see FederationDefinitions), so they are one element here too.
    private static List<(string Path, ResolvedUpstream Upstream)> ElementsOf(FederationPolicyDefinition definition, FederationOptions options)
    {
        var upstreams = options.Upstreams
            .OrderBy(u => u.Key, StringComparer.Ordinal)
            .Select(u => (Path: Child(nameof(FederationOptions.Upstreams), u.Key), Upstream: ResolvedUpstream.FromDefinition(u.Key, u.Value)))
            .ToList();
        IEnumerable<(string Path, ResolvedUpstream Upstream)> elements;
        if (definition.FederationUpstreamSet is PolicyKeys.AllUpstreamsSet)
        {
            elements = upstreams;
        }
        else if (definition.FederationUpstreamSet is { } setName && options.UpstreamSets.TryGetValue(setName, out var set))
        {
            elements = set.Select((element, index) => (
                Path: Child(Child(nameof(FederationOptions.UpstreamSets), setName), index),
                Upstream: upstreams.First(u => u.Upstream.UpstreamName == element.Upstream).Upstream.WithOverrides(element)));
        }
        else if (definition.FederationUpstreamPattern is { } pattern)
        {
            var regex = PolicyPattern.Compile(pattern);
            elements = upstreams.Where(u => regex.IsMatch(u.Upstream.UpstreamName));
        }
        else
        {
            // federation-upstream names a single upstream, which cannot share with itself.
            elements = [];
        }

        return [.. elements.DistinctBy(e => e.Upstream)];
    }
}
