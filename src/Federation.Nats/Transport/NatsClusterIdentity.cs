using System.Globalization;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// The cluster name a NATS connection advertises to the engine (<see cref="Core.Transport.IBrokerConnection.ClusterName"/>).
/// Link ids, lease names, the presence exchange and upstream queue (durable consumer) names derive from it, so it must
/// be the same across server restarts and on every node of one cluster: a name that changes makes the next reconcile start
/// every link anew, with a new upstream queue, and strands what the old one buffered.
/// </summary>
/// <remarks>
/// In order: the URI's <c>cluster-name</c>; the INFO <c>cluster</c> field (shared by every node of a cluster), unless the
/// server made it up (<c>cluster_dynamic</c>: a cluster without a configured name gets a random one); the INFO
/// <c>server_name</c> when it was set (<c>-n</c> or <c>server_name</c>) and the server is not a node of such a cluster,
/// where it names one node only; otherwise the endpoint the URI names (<c>host:port</c>). A server without a configured
/// name reports its <c>server_id</c> as <c>server_name</c>, and that id is new at every start, even on the same store.
/// </remarks>
internal static class NatsClusterIdentity
{
    /// <summary>The port a <c>nats://</c> or <c>tls://</c> URI without one connects to.</summary>
    private const int DefaultPort = 4222;

    /// <summary>Where the name came from.</summary>
    public enum Source
    {
        /// <summary>The URI's <c>cluster-name</c>.</summary>
        Configured,

        /// <summary>The INFO <c>cluster</c> field: the server's configured cluster name.</summary>
        ServerCluster,

        /// <summary>The INFO <c>server_name</c>, configured on the server.</summary>
        ServerName,

        /// <summary>The endpoint the URI names: nothing the server says is stable.</summary>
        Endpoint,
    }

    /// <summary>The effective cluster name of a connection and where it came from.</summary>
    /// <param name="configured">The URI's <c>cluster-name</c>, or null.</param>
    /// <param name="info">The server's INFO, or null.</param>
    /// <param name="serverUrl">The server URI as configured, without its query.</param>
    public static (string Name, Source From) Of(string? configured, INatsServerInfo? info, string serverUrl)
    {
        ArgumentNullException.ThrowIfNull(serverUrl);
        if (!string.IsNullOrEmpty(configured))
        {
            return (configured, Source.Configured);
        }

        if (info is { Cluster: { Length: > 0 } cluster, ClusterDynamic: false })
        {
            return (cluster, Source.ServerCluster);
        }

        if (info is { Name: { Length: > 0 } name } && name != info.Id && string.IsNullOrEmpty(info.Cluster))
        {
            return (name, Source.ServerName);
        }

        return (Endpoint(serverUrl), Source.Endpoint);
    }

    /// <summary>
    /// <c>host:port</c> of <paramref name="serverUrl"/>, without user-info (credentials never go into a name); the port is
    /// written out when the URI leaves it to the default, so that both spellings name one endpoint.
    /// </summary>
    public static string Endpoint(string serverUrl)
    {
        ArgumentNullException.ThrowIfNull(serverUrl);
        if (!Uri.TryCreate(serverUrl, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            // The transport parsed the URI before connecting, so this does not happen; a name is still needed.
            return "nats";
        }

        var port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port;
        return uri.Host + ":" + port.ToString(CultureInfo.InvariantCulture);
    }
}
