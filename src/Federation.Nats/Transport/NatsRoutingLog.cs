using Microsoft.Extensions.Logging;

namespace Federation.Nats.Transport;

/// <summary>Log events of the subscriptions that carry an upstream's messages to its links (63xx).</summary>
internal static partial class NatsRoutingLog
{
    // Debug: the link logs each loss episode once at warning (reason unreadable); this says which subject and why, per
    // message, and must not let a hostile publisher flood the log at the default level.
    [LoggerMessage(6301, LogLevel.Debug, "NATS {Uri}: a message on '{Subject}' was dropped: its header block cannot be read ({Cause})")]
    public static partial void UnreadableDropped(ILogger logger, string uri, string subject, string cause);
}
