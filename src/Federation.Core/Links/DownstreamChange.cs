using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// What a reload's downstream settings (<c>Downstream:uri</c>, <c>ClusterName</c>) mean for the running links. A link's id
/// and its upstream queue's name follow from the downstream's cluster name and virtual host (see <see cref="LinkId"/>,
/// <see cref="UpstreamNaming.QueueName"/>), not from how the engine connects to it: a new password or another
/// <c>heartbeat</c> in the URI reaches the same downstream, and the links go on from the same upstream queues.
/// </summary>
internal static class DownstreamChange
{
    /// <summary>
    /// Whether the links keep their ids and upstream queues from <paramref name="before"/> to <paramref name="after"/>: the
    /// same cluster name as far as it is known without connecting, and either the same broker (scheme, host, port as
    /// written and decoded vhost, as <see cref="UpstreamBroker"/> tells it; credentials and query keys other than the name
    /// do not count) with the same cluster name setting, or a name known on both sides and the same virtual host (the
    /// cluster name, not the host, is what the ids and queue names use). A name is known without connecting when it is
    /// configured (<c>ClusterName</c>) or when the URI itself sets the name its connections report (NATS
    /// <c>cluster-name</c>, through <paramref name="preview"/>). A name a broker advertises only once connected may be
    /// another on another broker: those links are not assumed to go on.
    /// </summary>
    /// <param name="before">The definitions the links run under.</param>
    /// <param name="after">The reloaded definitions.</param>
    /// <param name="preview">What a downstream URI tells without connecting (<see cref="Transport.ITransport.PreviewDownstream"/>), or null when nothing.</param>
    public static bool KeepsLinks(FederationDefinitions before, FederationDefinitions after, Func<string, DownstreamPreview?>? preview = null)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var name = KnownClusterName(before, preview);
        if (name != KnownClusterName(after, preview))
        {
            // Another name the links go by (ClusterName, or the URI's own, NATS cluster-name), or one known only on one
            // side: on the same broker too, the new links may have other ids and queues, so the old ones are not kept
            // for them (they would stay behind upstream, filling up, without a word).
            return false;
        }

        if (before.ClusterName == after.ClusterName && UpstreamBroker.Of(before.DownstreamUri) is { } broker && broker == UpstreamBroker.Of(after.DownstreamUri))
        {
            return true;
        }

        return name is not null
            && VirtualHostOf(before.DownstreamUri) is { } virtualHost
            && virtualHost == VirtualHostOf(after.DownstreamUri);
    }

    /// <summary>The cluster name the links under <paramref name="definitions"/> use, when it is known without connecting.</summary>
    private static string? KnownClusterName(FederationDefinitions definitions, Func<string, DownstreamPreview?>? preview) =>
        definitions.ClusterName ?? preview?.Invoke(definitions.DownstreamUri)?.ClusterName;

    /// <summary>The decoded virtual host of <paramref name="uri"/> (an empty path is <c>/</c>), or null when it does not parse.</summary>
    private static string? VirtualHostOf(string uri)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed))
        {
            return null;
        }

        var path = parsed.AbsolutePath.TrimStart('/');
        return path.Length == 0 ? "/" : Uri.UnescapeDataString(path);
    }
}
