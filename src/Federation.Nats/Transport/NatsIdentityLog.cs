using Microsoft.Extensions.Logging;

namespace Federation.Nats.Transport;

/// <summary>Log events of the cluster name a NATS connection advertises (64xx).</summary>
internal static partial class NatsIdentityLog
{
    [LoggerMessage(6008, LogLevel.Information, "NATS {Uri}: the server has no stable name of its own (no configured cluster name, and no configured server_name outside a cluster; its server_id changes at every restart), so the cluster name used is '{ClusterName}', the host and port this URI names; link ids, leases and upstream queue names derive from it. Set cluster-name on the URI (or Federation:ClusterName) to choose it; keep it the same on every host. Logged once per URI.")]
    public static partial void ClusterNameFromEndpoint(ILogger logger, string uri, string clusterName);
}
