namespace Federation.Core.Model;

internal sealed partial class FederationDefinitions
{
    /// <summary>
    /// Whether <paramref name="other"/> is the same effective configuration: the same downstream and names, start-only
    /// settings, upstreams with every value resolved, policies that can apply to exchanges (in precedence order, each with
    /// what it resolves to), and duplicate set elements. Applying it would change nothing, so a host can skip a reload
    /// that brings it (a file saved twice, a change elsewhere in the configuration) instead of reporting it again.
    /// Differences that cannot matter are not differences: a policy for queues only, a set no policy uses.
    /// </summary>
    public bool IsEquivalentTo(FederationDefinitions other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return ClusterName == other.ClusterName
            && InstanceName == other.InstanceName
            && DownstreamUri == other.DownstreamUri
            && StartOnlySettings.Changes(this, other).Count == 0
            && Upstreams.Count == other.Upstreams.Count
            && Upstreams.All(u => other.Upstreams.TryGetValue(u.Key, out var same) && u.Value.Equals(same))
            && exchangePolicies.Length == other.exchangePolicies.Length
            && exchangePolicies.Zip(other.exchangePolicies).All(p => SamePolicy(p.First, p.Second))
            && DuplicateSetElements.SequenceEqual(other.DuplicateSetElements);
    }

    // The compiled pattern has no value equality; the same pattern text with the same options matches the same names.
    private static bool SamePolicy(ExchangePolicy one, ExchangePolicy other) =>
        one.Name == other.Name
        && one.Priority == other.Priority
        && one.Pattern.ToString() == other.Pattern.ToString()
        && one.Pattern.Options == other.Pattern.Options
        && one.Resolution.Equals(other.Resolution);
}
