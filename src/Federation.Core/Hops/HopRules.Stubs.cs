using Federation.Core.Transport;

namespace Federation.Core.Hops;

// STUB: replaced by the hop-rules work. Signatures are the contract the engine and the in-memory broker use.
/// <summary>The only place the federation hop rules live.</summary>
public static partial class HopRules
{
    /// <summary>
    /// The forward check: forward iff the <c>x-received-from</c> trail is shorter than <paramref name="maxHops"/> and no entry has
    /// both cluster-name == <paramref name="downstreamClusterName"/> and vhost == <paramref name="downstreamVirtualHost"/>.
    /// A missing or non-array header counts as an empty trail. Allocation-free.
    /// </summary>
    public static ForwardVerdict Check(IReadOnlyDictionary<string, object?>? headers, int maxHops, string downstreamClusterName, string downstreamVirtualHost) => throw new NotImplementedException();

    /// <summary>Prepends <paramref name="entry"/> to the trail in <paramref name="properties"/> (creating headers as needed). A malformed existing value is moved into <c>x-invalid-headers</c>.</summary>
    public static void PrependReceivedFrom(MessageProperties properties, ReceivedFromEntry entry) => throw new NotImplementedException();

    /// <summary>
    /// The hops a binding carries when propagated over a link with <paramref name="maxHops"/> to an upstream identified by
    /// (<paramref name="upstreamClusterName"/>, <paramref name="upstreamVirtualHost"/>): max-hops for a local binding,
    /// min(previous - 1, max-hops) for an already-propagated one, 0 when that upstream is already in its <c>x-bound-from</c> trail.
    /// 0 means: do not propagate.
    /// </summary>
    public static int BindingHops(IReadOnlyDictionary<string, object?>? bindingArguments, int maxHops, string? upstreamClusterName, string upstreamVirtualHost) => throw new NotImplementedException();

    /// <summary>Returns a copy of <paramref name="bindingArguments"/> with an <c>x-bound-from</c> entry prepended: cluster-name, vhost, exchange (<c>"DV:DX A|B"</c>), hops.</summary>
    public static IReadOnlyDictionary<string, object?> WithBoundFrom(IReadOnlyDictionary<string, object?>? bindingArguments, string downstreamClusterName, string downstreamVirtualHost, string exchangeDescriptor, int hops) => throw new NotImplementedException();

    /// <summary>The entries of <c>x-received-from</c>, newest first; malformed entries are skipped.</summary>
    public static IReadOnlyList<ReceivedFromEntry> ReadReceivedFrom(IReadOnlyDictionary<string, object?>? headers) => throw new NotImplementedException();

    /// <summary>Whether binding arguments already carry <c>x-bound-from</c> (a binding made by a further-downstream link).</summary>
    public static bool HasBoundFrom(IReadOnlyDictionary<string, object?>? bindingArguments) =>
        bindingArguments is not null && bindingArguments.ContainsKey(HopHeaders.BoundFrom);
}
