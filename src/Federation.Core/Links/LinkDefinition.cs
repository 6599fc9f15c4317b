using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>Everything that identifies what one link does. A changed definition means the link must restart.</summary>
/// <param name="Id">Stable link id.</param>
/// <param name="Exchange">The downstream (federated) exchange.</param>
/// <param name="Upstream">The resolved upstream element.</param>
/// <param name="PolicyName">The policy federating the exchange.</param>
/// <param name="ClusterName">The downstream's effective cluster name.</param>
/// <param name="VirtualHost">The downstream vhost.</param>
internal sealed record LinkDefinition(string Id, ExchangeSpec Exchange, ResolvedUpstream Upstream, string? PolicyName, string ClusterName, string VirtualHost)
{
    /// <summary>The upstream exchange name.</summary>
    public string UpstreamExchange => Upstream.UpstreamExchangeFor(Exchange.Name);
}
