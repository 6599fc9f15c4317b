using Federation.Core.Model;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// What a link carries, as short hashes independent of the federation's cluster name: the downstream vhost and exchange,
/// the upstream exchange, and each broker the upstream reaches (as <see cref="UpstreamBroker"/> tells brokers apart). Two
/// links of <em>different</em> federations on one downstream with a fingerprint in common both copy the same messages
/// into the same exchange: each message arrives twice. Link ids cannot show that, since they contain the cluster name,
/// which is exactly what differs when one host has a typo in it (see <see cref="FederationBeacon"/>).
/// </summary>
internal static class FlowFingerprints
{
    /// <summary>One hash per broker of the link's upstream (a link may reach its upstream through several URIs).</summary>
    public static IReadOnlySet<string> Of(LinkDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return definition.Upstream.Uris
            // The same short hash as UpstreamFingerprints: a collision here only makes a false warning, never changes what runs.
            // Each broker also as versions before 6 Dec 2026 read it (see UpstreamFingerprints.Brokers), for their heartbeats.
            .SelectMany(UpstreamBroker.OrTextBothReadings)
            .Select(broker => UpstreamFingerprints.Hash(string.Join('\n', "flow", definition.VirtualHost, definition.Exchange.Name, definition.UpstreamExchange, broker)))
            .ToHashSet(StringComparer.Ordinal);
    }
}
