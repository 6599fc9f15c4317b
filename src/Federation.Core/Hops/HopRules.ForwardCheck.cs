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
    public static ForwardVerdict Check(IReadOnlyDictionary<string, object?>? headers, int maxHops, string downstreamClusterName, string downstreamVirtualHost)
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
            ? ForwardVerdict.Cycle
            : ForwardVerdict.Forward;
    }
}
