using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Everything that identifies what one link does. A definition that changed in how the link moves messages means the
/// link must restart (<see cref="MovesMessagesAs"/>); other changes are taken over by the running link.
/// </summary>
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

    /// <summary>
    /// Whether a link running this definition moves messages exactly as one running <paramref name="other"/> would: equal
    /// but for what a running link takes over without touching its session (see <see cref="ExchangeLink.Update"/>).
    /// The policy's name is only shown (status, connection name); the reconnect schedule applies between runs and the
    /// cleanup mode when the link stops. Restarting for those would delete and re-declare the upstream queue, losing what
    /// it held, for nothing: renaming a policy, or a new policy that resolves to the same upstream, must not cost messages.
    /// Neither the link id nor the lease and ledger names depend on them, so duplicate suppression is not disturbed.
    /// The queue-federation key <c>queue</c> is read for compatibility and not used by exchange links at all.
    /// </summary>
    public bool MovesMessagesAs(LinkDefinition other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var aligned = other with
        {
            PolicyName = PolicyName,
            Upstream = other.Upstream with
            {
                ReconnectDelay = Upstream.ReconnectDelay,
                ReconnectBackoff = Upstream.ReconnectBackoff,
                ReconnectDelayMaxSetting = Upstream.ReconnectDelayMaxSetting,
                ResourceCleanupMode = Upstream.ResourceCleanupMode,
                Queue = Upstream.Queue,
            },
        };
        return this == aligned;
    }

    /// <summary>
    /// What running <paramref name="next"/> (the same link, defined anew) does to the upstream queue this definition used:
    /// the queue's name follows from the link id, so it stays unless no URI of <paramref name="next"/> reaches the same
    /// broker and virtual host (<see cref="UpstreamBroker"/>), and the queue can be taken over unless it is declared with other arguments.
    /// </summary>
    public UpstreamQueueChange UpstreamQueueChangeTo(LinkDefinition next)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (!UpstreamBroker.Shared(Upstream.Uris, next.Upstream.Uris))
        {
            return UpstreamQueueChange.Upstream;
        }

        return UpstreamQueueDeclaration.Difference(Upstream, next.Upstream) is null ? UpstreamQueueChange.None : UpstreamQueueChange.Arguments;
    }

    /// <summary>
    /// Whether a link running <paramref name="other"/> (another link, say the same upstream under a new name) declares the
    /// upstream queue this definition uses: the queue's name carries the upstream and downstream exchanges and the downstream
    /// cluster and vhost but not the upstream's name, so it is the same queue when those match and a URI of
    /// <paramref name="other"/> reaches the broker and vhost of one of this definition's (<see cref="UpstreamBroker"/>).
    /// </summary>
    public bool SharesUpstreamQueueWith(LinkDefinition other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return other.Exchange.Name == Exchange.Name
            && other.UpstreamExchange == UpstreamExchange
            && other.ClusterName == ClusterName
            && other.VirtualHost == VirtualHost
            && UpstreamBroker.Shared(Upstream.Uris, other.Upstream.Uris);
    }

    /// <summary>Whether <paramref name="other"/> asks for another reconnect schedule than this definition.</summary>
    public bool ReconnectsDifferentlyFrom(LinkDefinition other) =>
        Upstream.ReconnectDelay != other.Upstream.ReconnectDelay
        || Upstream.ReconnectBackoff != other.Upstream.ReconnectBackoff
        || Upstream.ReconnectDelayMaxSetting != other.Upstream.ReconnectDelayMaxSetting;
}
