namespace Federation.Core.Hops;

public static partial class HopRules
{
    /// <summary>
    /// The forward check (the plugin's <c>should_forward</c>): forward iff the <c>x-received-from</c> trail is shorter than
    /// <paramref name="maxHops"/> and no entry has both cluster-name == <paramref name="downstreamClusterName"/> and
    /// vhost == <paramref name="downstreamVirtualHost"/>. Allocation-free.
    /// </summary>
    /// <param name="headers">The message headers, or <see langword="null"/> when it has none.</param>
    /// <param name="maxHops">The max-hops of the link the message is about to cross.</param>
    /// <param name="downstreamClusterName">The cluster name of the side the message would enter.</param>
    /// <param name="downstreamVirtualHost">The vhost the message would enter.</param>
    /// <returns>
    /// <see cref="ForwardVerdict.MaxHopsExceeded"/> when the trail is too long (checked first), else
    /// <see cref="ForwardVerdict.Cycle"/> when the message already left the downstream, else <see cref="ForwardVerdict.Forward"/>.
    /// A missing or non-array header counts as no trail, so such a message is always forwarded, whatever
    /// <paramref name="maxHops"/> is. Every array element counts toward the length; only tables can match the downstream.
    /// </returns>
    public static ForwardVerdict Check(IReadOnlyDictionary<string, object?>? headers, int maxHops, string downstreamClusterName, string downstreamVirtualHost) =>
        Check(headers, maxHops, downstreamClusterName, downstreamVirtualHost, downstreamAlias: null);

    /// <summary>
    /// The forward check for a downstream known by two names: as <see cref="Check(IReadOnlyDictionary{string, object?}?, int, string, string)"/>,
    /// and an entry with cluster-name == <paramref name="downstreamAlias"/> (and the same vhost) is a cycle too. Trail entries
    /// name a broker as it advertises itself (the link that reads from it writes its connection's cluster name, as the
    /// plugin does), so a downstream whose configured cluster name is not the one its broker advertises is known in trails
    /// by the advertised one. Allocation-free.
    /// </summary>
    /// <param name="headers">The message headers, or <see langword="null"/> when it has none.</param>
    /// <param name="maxHops">The max-hops of the link the message is about to cross.</param>
    /// <param name="downstreamClusterName">The cluster name of the side the message would enter.</param>
    /// <param name="downstreamVirtualHost">The vhost the message would enter.</param>
    /// <param name="downstreamAlias">The other name the downstream is known by, or <see langword="null"/>.</param>
    /// <returns>As the four-argument overload.</returns>
    public static ForwardVerdict Check(IReadOnlyDictionary<string, object?>? headers, int maxHops, string downstreamClusterName, string downstreamVirtualHost, string? downstreamAlias)
    {
        ArgumentNullException.ThrowIfNull(downstreamClusterName);
        ArgumentNullException.ThrowIfNull(downstreamVirtualHost);

        if (headers is null
            || !headers.TryGetValue(HopHeaders.ReceivedFrom, out var trail)
            || !HeaderValueReader.TryGetArrayCount(trail, out var length))
        {
            return ForwardVerdict.Forward;
        }

        if (length >= maxHops)
        {
            return ForwardVerdict.MaxHopsExceeded;
        }

        return HeaderValueReader.ContainsOrigin(trail, downstreamClusterName, downstreamVirtualHost)
               || (downstreamAlias is not null && HeaderValueReader.ContainsOrigin(trail, downstreamAlias, downstreamVirtualHost))
            ? ForwardVerdict.Cycle
            : ForwardVerdict.Forward;
    }
}
