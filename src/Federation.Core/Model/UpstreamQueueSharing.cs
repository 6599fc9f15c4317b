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
    /// <summary>Adds one error per pair of elements that would share a queue. Expects options that are otherwise valid.</summary>
    public static void Validate(FederationOptions options, ICollection<string> errors)
    {
        var reported = new HashSet<(string, string)>();
        foreach (var (policyName, policy) in options.Policies.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!PolicyKeys.AppliesToExchanges(policy.ApplyTo))
            {
                continue;
            }

            var elements = ElementsOf(policy.Definition, options);
            for (var i = 0; i < elements.Count; i++)
            {
                for (var j = i + 1; j < elements.Count; j++)
                {
                    var (first, second) = (elements[i], elements[j]);
                    if (first.Upstream.Exchange == second.Upstream.Exchange
                        && SharedBroker(first.Upstream.Uris, second.Upstream.Uris) is { } broker
                        && reported.Add((first.Path, second.Path)))
                    {
                        var exchange = first.Upstream.Exchange is { } name ? Quote(name) : "(the federated exchange's name)";
                        errors.Add(At(
                            second.Path,
                            $"upstream {Quote(second.Upstream.UpstreamName)} would share one upstream queue and internal exchange with "
                            + $"{first.Path} (upstream {Quote(first.Upstream.UpstreamName)}) under "
                            + $"{Child(nameof(FederationOptions.Policies), policyName)}: both reach {Quote(broker)} with the same "
                            + $"upstream exchange {exchange}; give one of them another exchange, or remove one"));
                    }
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

    // One of the URIs both elements may connect to, when they have one in common (credentials and query ignored).
    private static string? SharedBroker(IReadOnlyList<string> first, IReadOnlyList<string> second)
    {
        var brokers = new HashSet<string>(first.Select(UpstreamBroker.Of).OfType<string>(), StringComparer.Ordinal);
        foreach (var uri in second)
        {
            if (UpstreamBroker.Of(uri) is { } broker && brokers.Contains(broker))
            {
                return uri;
            }
        }

        return null;
    }
}
