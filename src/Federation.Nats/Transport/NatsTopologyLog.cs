using Microsoft.Extensions.Logging;

namespace Federation.Nats.Transport;

/// <summary>Log events of the downstream interest read from the NATS monitoring endpoint (62xx).</summary>
internal static partial class NatsTopologyLog
{
    [LoggerMessage(6201, LogLevel.Warning, "NATS {Uri}: the monitoring endpoint at monitor-port {Port} cannot be read ({Reason}), so the server's subscriptions are not seen and nothing is federated for them; retrying every poll. Check monitor-port: it must be the -m port of this same nats-server")]
    public static partial void MonitorUnreadable(ILogger logger, string uri, int port, string reason);

    [LoggerMessage(6202, LogLevel.Information, "NATS {Uri}: the monitoring endpoint at monitor-port {Port} is read again")]
    public static partial void MonitorReadable(ILogger logger, string uri, int port);

    [LoggerMessage(6203, LogLevel.Warning, "NATS {Uri}: monitor-port {Port} answers for server '{MonitorServer}', not for '{ConnectedServer}' that this connection uses, so the interest federated is that server's. Check monitor-port: it must be the -m port of this same nats-server")]
    public static partial void MonitorOfAnotherServer(ILogger logger, string uri, int port, string monitorServer, string connectedServer);
}
