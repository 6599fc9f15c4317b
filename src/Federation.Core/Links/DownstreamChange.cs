using Federation.Core.Model;

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
    /// same cluster name setting, and either the same broker (scheme, host, port as written and decoded vhost, as
    /// <see cref="UpstreamBroker"/> tells it; credentials and query do not count) or, with a configured cluster name, the
    /// same virtual host (the cluster name, not the host, is what the ids and queue names use). An advertised cluster name
    /// on another broker may be another one: those links are not assumed to go on.
    /// </summary>
    public static bool KeepsLinks(FederationDefinitions before, FederationDefinitions after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (before.ClusterName != after.ClusterName)
        {
            return false;
        }

        if (UpstreamBroker.Of(before.DownstreamUri) is { } broker && broker == UpstreamBroker.Of(after.DownstreamUri))
        {
            return true;
        }

        return after.ClusterName is not null && VirtualHostOf(before.DownstreamUri) is { } virtualHost && virtualHost == VirtualHostOf(after.DownstreamUri);
    }

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
