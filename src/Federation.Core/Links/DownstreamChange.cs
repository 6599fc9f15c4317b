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
    /// The downstream session the links run (or last ran) under: the definitions it was opened with, the cluster name and
    /// virtual host their ids use, and whether that name was known without connecting (configured, or set by the URI
    /// itself, NATS <c>cluster-name</c>) or is the one the broker advertised.
    /// </summary>
    /// <param name="Definitions">The definitions the session was opened with.</param>
    /// <param name="ClusterName">The cluster name the links' ids and queues use.</param>
    /// <param name="VirtualHost">The session's virtual host.</param>
    /// <param name="NameKnownWithoutConnecting">The name as known before connecting (configured or from the URI), or null when it was the broker's advertised one.</param>
    public sealed record Running(FederationDefinitions Definitions, string ClusterName, string VirtualHost, string? NameKnownWithoutConnecting);

    /// <summary>
    /// Whether the links of <paramref name="running"/> keep their ids and upstream queues under <paramref name="after"/>.
    /// When the new definitions tell the cluster name without connecting (<c>ClusterName</c>, or the URI's own, NATS
    /// <c>cluster-name</c>, through <paramref name="preview"/>), the links are kept exactly when it is the name they run
    /// under, on the same virtual host, on whichever host: the ids will be theirs. When the name will be whatever the
    /// broker advertises, they are kept only on the same broker (scheme, host, port and decoded vhost, as
    /// <see cref="UpstreamBroker"/> tells it; credentials and query do not count) and only if the running name was the
    /// advertised one too: another broker, or a name the operator took off, may advertise another name, and links kept
    /// for ids that then differ would leave their queues behind upstream, filling up without a word.
    /// </summary>
    /// <remarks>
    /// The running session's name is used, never a fresh preview of the old URI: what that URI names (a certificate file,
    /// say) may be gone by the time of the reload, and the links' ids are the session's name anyway.
    /// </remarks>
    /// <param name="running">The session the links run under.</param>
    /// <param name="after">The reloaded definitions.</param>
    /// <param name="preview">What a downstream URI tells without connecting (<see cref="ITransport.PreviewDownstream"/>), or null when nothing.</param>
    public static bool KeepsLinks(Running running, FederationDefinitions after, Func<string, DownstreamPreview?>? preview = null)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(after);
        var afterPreview = preview?.Invoke(after.DownstreamUri);
        if ((after.ClusterName ?? afterPreview?.ClusterName) is { } name)
        {
            return name == running.ClusterName && (afterPreview?.VirtualHost ?? VirtualHostOf(after.DownstreamUri)) == running.VirtualHost;
        }

        return running.NameKnownWithoutConnecting is null
            && UpstreamBroker.Of(running.Definitions.DownstreamUri) is { } broker
            && broker == UpstreamBroker.Of(after.DownstreamUri);
    }

    /// <summary>The cluster name the links under <paramref name="definitions"/> use when it is known without connecting, else null.</summary>
    public static string? KnownClusterName(FederationDefinitions definitions, Func<string, DownstreamPreview?>? preview)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        return definitions.ClusterName ?? preview?.Invoke(definitions.DownstreamUri)?.ClusterName;
    }

    /// <summary>
    /// Whether a reload from <paramref name="before"/> to <paramref name="after"/> points the engine at another broker
    /// (scheme, host, port or decoded vhost), rather than reaching the same one differently (credentials, query).
    /// </summary>
    public static bool ReachesAnotherBroker(FederationDefinitions before, FederationDefinitions after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        return UpstreamBroker.Of(before.DownstreamUri) is not { } broker || broker != UpstreamBroker.Of(after.DownstreamUri);
    }

    /// <summary>
    /// Whether only connecting to the downstream of <paramref name="after"/> can tell if a reload that
    /// <see cref="KeepsLinks"/> does not keep the links for still reaches the downstream they run on: the new settings tell
    /// no cluster name without connecting (a configured name, or the URI's own, decides without it: see
    /// <see cref="KeepsLinks"/>), the new URI shares no address with the one the links run on (another way of writing the
    /// same host, another node of the same cluster; on a shared address <see cref="KeepsLinks"/> has told), and it names
    /// the virtual host they run on (another one is another downstream, whatever the broker).
    /// </summary>
    /// <param name="running">The session the links run under.</param>
    /// <param name="after">The reloaded definitions.</param>
    /// <param name="preview">What a downstream URI tells without connecting, or null when nothing.</param>
    public static bool OnlyConnectingTells(Running running, FederationDefinitions after, Func<string, DownstreamPreview?>? preview)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(after);
        var afterPreview = preview?.Invoke(after.DownstreamUri);
        return after.ClusterName is null && afterPreview?.ClusterName is null
            && ReachesAnotherBroker(running.Definitions, after)
            && (afterPreview?.VirtualHost ?? VirtualHostOf(after.DownstreamUri)) == running.VirtualHost;
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
