using Federation.Core.Transport;

namespace Federation.Core.Model;

/// <summary>
/// An immutable, validated snapshot of <see cref="FederationOptions"/>: what the supervisor reconciles against.
/// </summary>
internal sealed partial class FederationDefinitions
{
    /// <summary>The configured cluster name, or null to use the downstream broker's.</summary>
    public string? ClusterName { get; }

    /// <summary>The downstream URI.</summary>
    public string? DownstreamUri { get; }

    private FederationDefinitions(string? clusterName, string? downstreamUri)
    {
        ClusterName = clusterName;
        DownstreamUri = downstreamUri;
    }
}

/// <summary>What a policy resolution yields for one exchange.</summary>
/// <param name="PolicyName">The applying policy, or null when none applies.</param>
/// <param name="Upstreams">The upstream elements to link, in a stable order; empty when the exchange is not federated.</param>
internal sealed record FederationResolution(string? PolicyName, IReadOnlyList<ResolvedUpstream> Upstreams)
{
    /// <summary>Not federated.</summary>
    public static readonly FederationResolution None = new(null, []);
}
