namespace Federation.Core.Model;

/// <summary>
/// A policy that selects federated exchanges, as <c>rabbitmqctl set_policy</c> does. Exactly one policy applies to an
/// exchange, the one with the highest priority; definitions are not merged.
/// </summary>
public sealed partial class FederationPolicy
{
    /// <summary><c>pattern</c> (mandatory): a regular expression matched against exchange names.</summary>
    public string Pattern { get; set; } = "";

    /// <summary><c>apply-to</c>: <c>exchanges</c>, <c>queues</c>, <c>classic_queues</c>, <c>quorum_queues</c>, <c>streams</c> or <c>all</c> (default).</summary>
    public string ApplyTo { get; set; } = "all";

    /// <summary><c>priority</c>: the highest-priority matching policy wins. Default 0.</summary>
    public int Priority { get; set; }

    /// <summary><c>definition</c>: the policy's keys.</summary>
    public FederationPolicyDefinition Definition { get; set; } = new();
}

/// <summary>
/// The federation keys of a policy definition. Exactly one of the three must be set for the policy to federate;
/// a policy with none of them matches exchanges (and so shadows lower-priority policies) without federating them.
/// </summary>
public sealed class FederationPolicyDefinition
{
    /// <summary><c>federation-upstream</c>: one upstream by name.</summary>
    public string? FederationUpstream { get; set; }

    /// <summary><c>federation-upstream-set</c>: a set by name, or <c>all</c> for every defined upstream.</summary>
    public string? FederationUpstreamSet { get; set; }

    /// <summary><c>federation-upstream-pattern</c>: a regular expression over upstream names.</summary>
    public string? FederationUpstreamPattern { get; set; }

    /// <summary>Other policy keys (for example <c>max-length</c>), kept as given; they do not affect federation.</summary>
    public IDictionary<string, string?> OtherKeys { get; set; } = new Dictionary<string, string?>(StringComparer.Ordinal);
}
