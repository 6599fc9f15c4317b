using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The links a configuration asks for on a downstream: one per (federated exchange, upstream element), each with its id.
/// The running links are reconciled against them (<see cref="LinkReconciler"/>), and while the downstream is not
/// connected the status lists them from the exchanges known without it (<see cref="PendingLinks"/>).
/// </summary>
internal static class DesiredLinks
{
    /// <summary>The links of <paramref name="definitions"/> on the exchanges given, by id.</summary>
    /// <param name="definitions">The definitions to resolve.</param>
    /// <param name="exchanges">The downstream's exchanges.</param>
    /// <param name="clusterName">The downstream's effective cluster name, part of each link's identity.</param>
    /// <param name="virtualHost">The downstream's virtual host, part of each link's identity.</param>
    /// <param name="duplicate">Told of a second upstream element that resolves to a link already there (the first wins).</param>
    public static Dictionary<string, LinkDefinition> Resolve(
        FederationDefinitions definitions,
        IEnumerable<ExchangeSpec> exchanges,
        string clusterName,
        string virtualHost,
        Action<LinkDefinition>? duplicate = null)
    {
        var desired = new Dictionary<string, LinkDefinition>(StringComparer.Ordinal);
        foreach (var exchange in exchanges.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var resolution = definitions.Resolve(exchange);
            foreach (var upstream in resolution.Upstreams)
            {
                var upstreamExchange = upstream.UpstreamExchangeFor(exchange.Name);
                var id = LinkId.For(clusterName, virtualHost, exchange.Name, upstream.UpstreamName, upstreamExchange);
                var definition = new LinkDefinition(id, exchange, upstream, resolution.PolicyName, clusterName, virtualHost);
                if (!desired.TryAdd(id, definition))
                {
                    duplicate?.Invoke(definition);
                }
            }
        }

        return desired;
    }
}
