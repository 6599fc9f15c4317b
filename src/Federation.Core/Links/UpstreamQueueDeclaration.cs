using Federation.Core.Hops;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The arguments a link declares its upstream queue with. A broker refuses to declare an existing queue with other ones
/// (AMQP <c>406 PRECONDITION_FAILED</c>, inequivalent arg), so a link whose new definition changes them cannot take its
/// predecessor's queue over as it is: the new run hands it over to one declared anew, forwarding what it holds (see
/// <see cref="ExchangeLink"/>'s handover and <see cref="LinkReconciler"/>).
/// </summary>
internal static class UpstreamQueueDeclaration
{
    /// <summary>The declaration arguments for <paramref name="settings"/>.</summary>
    public static Dictionary<string, object?> Arguments(ResolvedUpstream settings)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            [HopHeaders.InternalPurposeArgument] = HopHeaders.InternalPurposeValue,
            ["x-queue-type"] = settings.QueueType == UpstreamQueueType.Quorum ? "quorum" : "classic",
        };
        if (settings.Expires is { } expires)
        {
            arguments["x-expires"] = expires;
        }

        if (settings.MessageTtl is { } ttl)
        {
            arguments["x-message-ttl"] = ttl;
        }

        return arguments;
    }

    /// <summary>
    /// The arguments that differ between the declarations for <paramref name="before"/> and <paramref name="after"/>, as
    /// <c>name old -> new</c> (<c>none</c> for an absent one), or null when they declare the queue alike.
    /// </summary>
    public static string? Difference(ResolvedUpstream before, ResolvedUpstream after)
    {
        var old = Arguments(before);
        var now = Arguments(after);
        var changed = old.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(k => !HeaderValueComparer.Instance.Equals(old.GetValueOrDefault(k), now.GetValueOrDefault(k)))
            .Select(k => $"{k} {old.GetValueOrDefault(k) ?? "none"} -> {now.GetValueOrDefault(k) ?? "none"}")
            .ToList();
        return changed.Count == 0 ? null : string.Join(", ", changed);
    }
}
