namespace Federation.Core.Hops;

public static partial class HopRules
{
    /// <summary>The most hops a propagated binding carries: <c>x-bound-from</c> writes them as an AMQP short.</summary>
    internal const int MaxBindingHops = short.MaxValue;

    /// <summary>
    /// The hops a binding carries when propagated over a link with <paramref name="maxHops"/> to an upstream identified by
    /// (<paramref name="upstreamClusterName"/>, <paramref name="upstreamVirtualHost"/>) (the plugin's <c>update_binding</c>):
    /// max-hops for a local binding, min(previous − 1, max-hops) for an already-propagated one, 0 when that upstream is
    /// already in its <c>x-bound-from</c> trail. 0 means: do not propagate. Never negative, and never above 32767 (the hops
    /// are written as an AMQP short): a larger max-hops propagates bindings with 32767 hops.
    /// </summary>
    /// <param name="bindingArguments">The downstream binding's arguments, or <see langword="null"/> when it has none.</param>
    /// <param name="maxHops">The max-hops of the link the binding would be propagated over.</param>
    /// <param name="upstreamClusterName">The upstream's cluster name; <see langword="null"/> when it advertises none, which then matches no trail entry.</param>
    /// <param name="upstreamVirtualHost">The upstream vhost.</param>
    /// <returns>The hops for the propagated binding's new <c>x-bound-from</c> entry.</returns>
    /// <remarks>
    /// The plugin crashes on a malformed <c>x-bound-from</c>; here a value that is not an array, or whose first (newest)
    /// element is not a table with an integer <c>hops</c>, is treated as a local binding and gets max-hops. The cycle check
    /// still runs over any array first, because never re-entering a (cluster, vhost) is the rule that prevents loops.
    /// </remarks>
    public static int BindingHops(IReadOnlyDictionary<string, object?>? bindingArguments, int maxHops, string? upstreamClusterName, string upstreamVirtualHost)
    {
        ArgumentNullException.ThrowIfNull(upstreamVirtualHost);

        // The plugin takes any positive max-hops; the hops of x-bound-from are an AMQP short, so a larger value propagates as
        // the largest a short holds (a binding crossing 32767 links is as unbounded as one crossing more).
        var localHops = Math.Clamp(maxHops, 0, MaxBindingHops);
        if (bindingArguments is null
            || !bindingArguments.TryGetValue(HopHeaders.BoundFrom, out var trail)
            || !HeaderValueReader.TryGetArrayCount(trail, out var length))
        {
            return localHops;
        }

        if (HeaderValueReader.ContainsOrigin(trail, upstreamClusterName, upstreamVirtualHost))
        {
            return 0;
        }

        if (length == 0
            || !HeaderValueReader.TryGetField(HeaderValueReader.ElementAt(trail, 0), TrailFieldNames.Hops, out var hopsValue)
            || !HeaderValueReader.TryGetInteger(hopsValue, out var previousHops))
        {
            return localHops;
        }

        return (int)Math.Clamp(previousHops - 1, 0, localHops);
    }

    /// <summary>
    /// Returns a copy of <paramref name="bindingArguments"/> (which is not modified) whose <c>x-bound-from</c> is a new array
    /// with the table {cluster-name, vhost, exchange, hops} first, followed by the previous entries if any. A malformed
    /// previous value is moved into <c>x-invalid-headers</c>, as for message headers.
    /// </summary>
    /// <remarks>
    /// A headers binding with <c>x-match: all-with-x</c> is propagated as <c>x-match: all</c> (plus
    /// <c>x-federation-match: all-with-x</c>): otherwise the upstream would require an <c>x-bound-from</c> header that no
    /// message carries, and nothing would ever match. The upstream filter is then looser (its <c>x-</c> arguments do not
    /// take part), and the downstream exchange applies the original binding to every forwarded message.
    /// </remarks>
    /// <param name="bindingArguments">The downstream binding's arguments, or <see langword="null"/> when it has none.</param>
    /// <param name="downstreamClusterName">The downstream cluster name.</param>
    /// <param name="downstreamVirtualHost">The downstream vhost.</param>
    /// <param name="exchangeDescriptor">The plugin's <c>"DV:DX A|B"</c> descriptor of the downstream exchange and link generation.</param>
    /// <param name="hops">The hops from <see cref="BindingHops"/>; written as an AMQP short.</param>
    /// <returns>The arguments of the binding to declare upstream.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hops"/> is negative or does not fit an AMQP short.</exception>
    public static IReadOnlyDictionary<string, object?> WithBoundFrom(IReadOnlyDictionary<string, object?>? bindingArguments, string downstreamClusterName, string downstreamVirtualHost, string exchangeDescriptor, int hops)
    {
        ArgumentNullException.ThrowIfNull(downstreamClusterName);
        ArgumentNullException.ThrowIfNull(downstreamVirtualHost);
        ArgumentNullException.ThrowIfNull(exchangeDescriptor);
        ArgumentOutOfRangeException.ThrowIfNegative(hops);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hops, MaxBindingHops);

        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (bindingArguments is not null)
        {
            foreach (var (key, value) in bindingArguments)
            {
                arguments[key] = value;
            }
        }

        var entry = new Dictionary<string, object?>(4, StringComparer.Ordinal)
        {
            [TrailFieldNames.ClusterName] = downstreamClusterName,
            [TrailFieldNames.VirtualHost] = downstreamVirtualHost,
            [TrailFieldNames.Exchange] = exchangeDescriptor,
            [TrailFieldNames.Hops] = (short)hops,
        };
        HeadersMatchMode.RelaxForBoundFrom(arguments);
        TableHeader.Prepend(arguments, HopHeaders.BoundFrom, entry);
        return arguments;
    }

    /// <summary>Whether binding arguments already carry <c>x-bound-from</c> (a binding made by a further-downstream link).</summary>
    /// <param name="bindingArguments">The binding's arguments, or <see langword="null"/> when it has none.</param>
    /// <returns><see langword="true"/> when the <c>x-bound-from</c> key is present, whatever its value.</returns>
    public static bool HasBoundFrom(IReadOnlyDictionary<string, object?>? bindingArguments) =>
        bindingArguments is not null && bindingArguments.ContainsKey(HopHeaders.BoundFrom);
}
