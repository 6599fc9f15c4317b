using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Federation.Core.Transport;

namespace Federation.Core.Model;

/// <summary>
/// An immutable, validated snapshot of <see cref="FederationOptions"/>: what the supervisor reconciles against.
/// Later changes to the options object do not affect it.
/// </summary>
internal sealed partial class FederationDefinitions
{
    // Policies that can apply to exchanges, in precedence order, each with the upstream elements it federates from
    // computed once: everything a resolution depends on is fixed when the snapshot is taken.
    private readonly ImmutableArray<ExchangePolicy> exchangePolicies;

    private FederationDefinitions(
        string? clusterName,
        string? instanceName,
        string downstreamUri,
        ImmutableSortedDictionary<string, ResolvedUpstream> upstreams,
        ImmutableArray<ExchangePolicy> exchangePolicies,
        ImmutableArray<DuplicateSetElement> duplicateSetElements)
    {
        ClusterName = clusterName;
        InstanceName = instanceName;
        SpreadLinks = true;
        Ownership = new OwnershipOptions();
        DownstreamUri = downstreamUri;
        Upstreams = upstreams;
        this.exchangePolicies = exchangePolicies;
        DuplicateSetElements = duplicateSetElements;
    }

    /// <summary>How the presence exchange of every federation's instances begins (see <c>Links.Ownership.InstancePresence</c>).</summary>
    internal const string PresenceExchangePrefix = "federation.presence.";

    /// <summary>The configured cluster name, or null to use the downstream broker's.</summary>
    public string? ClusterName { get; }

    /// <summary>The configured instance name (the holder recorded with link leases), or null for the default.</summary>
    public string? InstanceName { get; }

    /// <summary>Whether the instances spread the links among themselves (<see cref="FederationOptions.SpreadLinks"/>).</summary>
    public bool SpreadLinks { get; private init; }

    /// <summary>How the instances notice each other and pass links (<see cref="FederationOptions.Ownership"/>): a copy, never changed.</summary>
    public OwnershipOptions Ownership { get; private init; }

    /// <summary>The downstream URI; validation refuses a configuration without one.</summary>
    public string DownstreamUri { get; }

    /// <summary>
    /// Every defined upstream by name, in ordinal name order, with its own values and the defaults: what the implicit
    /// set <c>all</c> federates from.
    /// </summary>
    public IReadOnlyDictionary<string, ResolvedUpstream> Upstreams { get; }

    /// <summary>
    /// Set elements that resolve exactly like an earlier element of the same set, in set then element order. Each is used
    /// once (one link per distinct element); the supervisor logs them so that the operator learns of the redundancy.
    /// </summary>
    public IReadOnlyList<DuplicateSetElement> DuplicateSetElements { get; }

    /// <summary>Validates <paramref name="options"/> (see <see cref="Validate"/>) and snapshots it. Throws <see cref="FederationConfigurationException"/> listing every error.</summary>
    public static FederationDefinitions Create(FederationOptions options, TransportResolver? transports = null)
    {
        var errors = Validate(options, transports);
        if (errors.Count > 0)
        {
            throw new FederationConfigurationException(errors);
        }

        var upstreams = options.Upstreams.ToImmutableSortedDictionary(
            u => u.Key, u => ResolvedUpstream.FromDefinition(u.Key, u.Value), StringComparer.Ordinal);
        var sets = options.UpstreamSets.ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal);
        var policies = options.Policies
            .Where(p => PolicyKeys.AppliesToExchanges(p.Value.ApplyTo))
            .Select(p => new ExchangePolicy(
                p.Key,
                PolicyPattern.Compile(p.Value.Pattern),
                p.Value.Priority,
                new FederationResolution(p.Key, UpstreamsOf(p.Value.Definition, upstreams, sets))))
            // Highest priority wins. RabbitMQ picks arbitrarily among equal priorities; we take the ordinal-first name
            // so that a resolution never depends on dictionary order.
            .OrderByDescending(p => p.Priority)
            .ThenBy(p => p.Name, StringComparer.Ordinal)
            .ToImmutableArray();

        return new FederationDefinitions(options.ClusterName, options.InstanceName, options.Downstream!.Uri!, upstreams, policies, FindDuplicates(sets, upstreams))
        {
            SpreadLinks = options.SpreadLinks,
            Ownership = options.Ownership.Copy(),
        };
    }

    private static ImmutableArray<DuplicateSetElement> FindDuplicates(
        Dictionary<string, IList<UpstreamSetElement>> sets,
        ImmutableSortedDictionary<string, ResolvedUpstream> upstreams)
    {
        var duplicates = ImmutableArray.CreateBuilder<DuplicateSetElement>();
        foreach (var (setName, elements) in sets.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            // The same equality as the de-duplication in UpstreamsOf: fully resolved, so that an override equal to the
            // upstream's own value counts as identical too.
            var first = new Dictionary<ResolvedUpstream, int>();
            for (var index = 0; index < elements.Count; index++)
            {
                if (!upstreams.TryGetValue(elements[index].Upstream, out var upstream))
                {
                    continue;
                }

                var resolved = upstream.WithOverrides(elements[index]);
                if (!first.TryAdd(resolved, index))
                {
                    duplicates.Add(new DuplicateSetElement(setName, index, first[resolved], upstream.UpstreamName));
                }
            }
        }

        return duplicates.ToImmutable();
    }

    /// <summary>
    /// The policy that applies to <paramref name="exchange"/> and the upstream elements it federates from. The policy
    /// is named even when it federates nothing (a definition with other keys only, or an empty set), because it still
    /// decides the exchange; the exchange is federated only when <see cref="FederationResolution.Upstreams"/> is non-empty.
    /// </summary>
    public FederationResolution Resolve(ExchangeSpec exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);

        // The default exchange cannot be bound to, and internal exchanges (the plugin's own included) are never federated;
        // nor is the exchange the instances of a federation announce themselves on (a policy such as "^fed" matches it).
        if (exchange.Name.Length == 0 || exchange.Internal || exchange.Name.StartsWith(PresenceExchangePrefix, StringComparison.Ordinal))
        {
            return FederationResolution.None;
        }

        foreach (var policy in exchangePolicies)
        {
            if (policy.Pattern.IsMatch(exchange.Name))
            {
                return policy.Resolution;
            }
        }

        return FederationResolution.None;
    }

    private static ImmutableArray<ResolvedUpstream> UpstreamsOf(
        FederationPolicyDefinition definition,
        ImmutableSortedDictionary<string, ResolvedUpstream> upstreams,
        Dictionary<string, IList<UpstreamSetElement>> sets)
    {
        if (definition.FederationUpstream is { } upstreamName)
        {
            return upstreams.TryGetValue(upstreamName, out var upstream) ? [upstream] : [];
        }

        if (definition.FederationUpstreamSet is PolicyKeys.AllUpstreamsSet)
        {
            return [.. upstreams.Values];
        }

        if (definition.FederationUpstreamSet is { } setName)
        {
            // Validation refuses elements naming an undefined upstream; skipping them here only keeps resolution total.
            // Exact duplicates crash the plugin's link supervisor (rabbitmq-server#2547); one link per distinct element
            // is what the operator meant.
            return sets.TryGetValue(setName, out var elements)
                ? [.. elements
                    .Where(e => upstreams.ContainsKey(e.Upstream))
                    .Select(e => upstreams[e.Upstream].WithOverrides(e))
                    .Distinct()]
                : [];
        }

        if (definition.FederationUpstreamPattern is { } pattern)
        {
            var regex = PolicyPattern.Compile(pattern);
            return [.. upstreams.Values.Where(u => regex.IsMatch(u.UpstreamName))];
        }

        return [];
    }

    /// <summary>
    /// The policies that apply to exchanges and to none of <paramref name="exchanges"/> (as <see cref="Resolve"/> decides:
    /// one that only matches exchanges a higher-priority policy takes applies to none), with their patterns, by name.
    /// </summary>
    public IReadOnlyList<(string Name, string Pattern)> PoliciesApplyingToNone(IEnumerable<ExchangeSpec> exchanges)
    {
        ArgumentNullException.ThrowIfNull(exchanges);
        var applied = exchanges.Select(e => Resolve(e).PolicyName).OfType<string>().ToHashSet(StringComparer.Ordinal);
        return [.. exchangePolicies.Where(p => !applied.Contains(p.Name)).Select(p => (p.Name, p.Pattern.ToString())).OrderBy(p => p.Name, StringComparer.Ordinal)];
    }

    /// <summary>A policy that can apply to exchanges, ready to match.</summary>
    private sealed record ExchangePolicy(string Name, Regex Pattern, int Priority, FederationResolution Resolution);
}

/// <summary>What a policy resolution yields for one exchange.</summary>
/// <param name="PolicyName">The applying policy, or null when none applies.</param>
/// <param name="Upstreams">The upstream elements to link, in a stable order; empty when the exchange is not federated.</param>
internal sealed record FederationResolution(string? PolicyName, IReadOnlyList<ResolvedUpstream> Upstreams)
{
    /// <summary>Not federated.</summary>
    public static readonly FederationResolution None = new(null, []);

    /// <summary>Equal when the same policy yields the same upstream elements in the same order.</summary>
    public bool Equals(FederationResolution? other) =>
        other is not null && PolicyName == other.PolicyName && Upstreams.SequenceEqual(other.Upstreams);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(PolicyName, Upstreams.Count);
}
