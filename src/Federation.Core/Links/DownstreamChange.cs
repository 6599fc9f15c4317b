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
    /// same broker (scheme, host, port as written and decoded vhost, as <see cref="UpstreamBroker"/> tells it; credentials
    /// and query do not count) with the same cluster name setting, or the same cluster name known without connecting on
    /// the same virtual host (the cluster name, not the host, is what the ids and queue names use). A name is known without
    /// connecting when it is configured (<c>ClusterName</c>) or when the URI itself sets the name its connections report
    /// (NATS <c>cluster-name</c>, through <paramref name="preview"/>). A name a broker advertises only once connected may be
    /// another on another broker: those links are not assumed to go on.
    /// </summary>
    /// <param name="before">The definitions the links run under.</param>
    /// <param name="after">The reloaded definitions.</param>
    /// <param name="preview">What a downstream URI tells without connecting (<see cref="Transport.ITransport.PreviewDownstream"/>), or null when nothing.</param>
    public static bool KeepsLinks(FederationDefinitions before, FederationDefinitions after, Func<string, DownstreamPreview?>? preview = null)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.ClusterName == after.ClusterName && UpstreamBroker.Of(before.DownstreamUri) is { } broker && broker == UpstreamBroker.Of(after.DownstreamUri))
        {
            return true;
        }

        return KnownClusterName(before, preview) is { } name
            && name == KnownClusterName(after, preview)
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
