using Federation.Core.Transport;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// A run of another federation's instance whose links began to carry what links of this instance carry (with the links
/// of this instance, as <c>exchange &lt;- upstream</c>), or stopped doing so (<paramref name="Links"/> null).
/// </summary>
/// <param name="Cluster">The other federation (cluster name).</param>
/// <param name="Instance">The other instance.</param>
/// <param name="Links">This instance's links that the other also carries, sorted; null when the overlap ended.</param>
internal sealed record FederationOverlap(string Cluster, string Instance, IReadOnlyList<string>? Links)
{
    /// <summary>How status names such a run: <c>instance 'x' of federation 'y'</c>, each name escaped for display.</summary>
    public static string Describe(FederationBeacon beacon) =>
        $"instance '{PrintableText.Escape(beacon.Instance)}' of federation '{PrintableText.Escape(beacon.Cluster)}'";
}
