namespace Federation.Core.Model;

/// <summary>
/// Everything that configures exchange federation on one downstream broker: the <c>Federation</c> configuration section.
/// Keys inside upstreams, sets and policies are spelled as rabbitmqctl spells them when bound from configuration.
/// </summary>
public sealed class FederationOptions
{
    /// <summary>The configuration section name, <c>Federation</c>.</summary>
    public const string SectionName = "Federation";

    /// <summary>
    /// This (downstream) side's cluster name, used in upstream queue names and for cycle detection. It must be unique in
    /// the federation. Default: the cluster name the downstream broker advertises.
    /// </summary>
    public string? ClusterName { get; set; }

    /// <summary>
    /// This engine's name among engines that run the same configuration against one downstream. It is recorded with every
    /// link lease the engine takes on the downstream broker, so that the other engines' links can say who runs the link
    /// they wait for (<see cref="Links.LinkStatus.LeaseHolder"/>). Only a label: the broker decides who holds a lease.
    /// Default: <c>machine:pid</c>, with <c>#2</c>, <c>#3</c>... for further engines in one process.
    /// </summary>
    public string? InstanceName { get; set; }

    /// <summary>
    /// Whether instances with this configuration spread the links among themselves (<c>Federation:SpreadLinks</c>, default
    /// true): each announces itself on the downstream and asks for the leases of the links placed on it. False keeps the
    /// leases but not the placement: whoever asks first runs a link. Read at start; a reload does not change it.
    /// </summary>
    public bool SpreadLinks { get; set; } = true;

    /// <summary>
    /// How the instances notice each other and pass links between them when <see cref="SpreadLinks"/> is on
    /// (<c>Federation:Ownership</c>: heartbeat interval, presence timeout and the rest). Read at start; a reload does not
    /// change it.
    /// </summary>
    public OwnershipOptions Ownership { get; set; } = new();

    /// <summary>The downstream broker: the one whose exchanges are federated.</summary>
    public DownstreamOptions Downstream { get; set; } = new();

    /// <summary>The <c>federation-upstream</c> parameters, by name.</summary>
    public IDictionary<string, UpstreamDefinition> Upstreams { get; set; } = new Dictionary<string, UpstreamDefinition>(StringComparer.Ordinal);

    /// <summary>The <c>federation-upstream-set</c> parameters, by name. The set <c>all</c> is implicit.</summary>
    public IDictionary<string, IList<UpstreamSetElement>> UpstreamSets { get; set; } = new Dictionary<string, IList<UpstreamSetElement>>(StringComparer.Ordinal);

    /// <summary>Policies, by name.</summary>
    public IDictionary<string, FederationPolicy> Policies { get; set; } = new Dictionary<string, FederationPolicy>(StringComparer.Ordinal);

    /// <summary>Errors found while reading configuration, reported by validation at start (rather than thrown mid-bind).</summary>
    public IList<string> ConfigurationErrors { get; } = new List<string>();
}

/// <summary>The downstream broker connection.</summary>
public sealed class DownstreamOptions
{
    /// <summary>
    /// <c>uri</c>: the downstream broker and virtual host, for example <c>memory://london/%2f</c> or <c>amqp://user:pass@localhost:5672/%2f</c>.
    /// The transport is chosen by the scheme.
    /// </summary>
    public string? Uri { get; set; }
}
