using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>Terse builders for federation options, in the vocabulary of the plugin's test fixture.</summary>
internal static class Fixture
{
    public static FederationOptions Upstream(this FederationOptions options, string name, string broker, Action<UpstreamDefinition>? configure = null, string vhost = "/")
    {
        var upstream = new UpstreamDefinition { Uris = { Testbed.Uri(broker, vhost) } };
        configure?.Invoke(upstream);
        options.Upstreams[name] = upstream;
        return options;
    }

    public static FederationOptions Set(this FederationOptions options, string name, params UpstreamSetElement[] elements)
    {
        options.UpstreamSets[name] = [.. elements];
        return options;
    }

    public static UpstreamSetElement Element(string upstream, string? exchange = null) => new() { Upstream = upstream, Exchange = exchange };

    public static FederationOptions Policy(
        this FederationOptions options,
        string name,
        string pattern,
        string? upstream = null,
        string? set = null,
        string? upstreamPattern = null,
        int priority = 0,
        string applyTo = "all")
    {
        options.Policies[name] = new FederationPolicy
        {
            Pattern = pattern,
            Priority = priority,
            ApplyTo = applyTo,
            Definition = new FederationPolicyDefinition
            {
                FederationUpstream = upstream,
                FederationUpstreamSet = set,
                FederationUpstreamPattern = upstreamPattern,
            },
        };
        return options;
    }
}
