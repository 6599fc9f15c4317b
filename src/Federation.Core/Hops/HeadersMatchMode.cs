namespace Federation.Core.Hops;

/// <summary>
/// The <c>x-match</c> binding argument of headers exchanges, and how a propagated binding's mode must change so that the
/// <c>x-bound-from</c> it carries never decides whether a message matches upstream.
/// </summary>
internal static class HeadersMatchMode
{
    /// <summary>The binding argument that selects the match mode.</summary>
    public const string Argument = "x-match";

    /// <summary>Every non-<c>x-</c> argument must match (the default).</summary>
    public const string All = "all";

    /// <summary>At least one non-<c>x-</c> argument must match.</summary>
    public const string Any = "any";

    /// <summary>Every argument, <c>x-</c> ones included, must match.</summary>
    public const string AllWithX = "all-with-x";

    /// <summary>At least one argument, <c>x-</c> ones included, must match.</summary>
    public const string AnyWithX = "any-with-x";

    /// <summary>
    /// Records the downstream mode of a relaxed binding. Ignored by <c>all</c> matching, it keeps the relaxed binding
    /// distinct from a plain <c>all</c> binding with the same other arguments: both may be propagated, and unbinding one
    /// upstream must not remove the other.
    /// </summary>
    public const string OriginalModeArgument = "x-federation-match";

    /// <summary>
    /// Rewrites <c>x-match: all-with-x</c> to <c>all</c> in <paramref name="arguments"/> (a propagated binding's own copy)
    /// and records the original mode in <see cref="OriginalModeArgument"/>.
    /// </summary>
    /// <remarks>
    /// With <c>all-with-x</c> every binding argument must be a message header, and no message carries <c>x-bound-from</c>,
    /// so the propagated binding would never match. <c>all</c> keeps every other argument as a filter and lets the
    /// <c>x-</c> ones (the trail among them) pass; it is looser, never stricter, and the downstream exchange still routes
    /// each forwarded message with the original binding, so deliveries stay exact. Dropping the trail instead would
    /// keep the upstream filter exact but lose max-hops and cycle safety. <c>any-with-x</c> needs no change: a message
    /// without an <c>x-bound-from</c> header cannot match on it, so the trail never adds a match.
    /// </remarks>
    public static void RelaxForBoundFrom(Dictionary<string, object?> arguments)
    {
        if (arguments.TryGetValue(Argument, out var mode) && HeaderValueReader.TextEquals(mode, AllWithX))
        {
            arguments[Argument] = All;
            arguments[OriginalModeArgument] = AllWithX;
        }
    }
}
