using Microsoft.Extensions.Logging;

namespace Federation.Amqp.Messaging;

/// <summary>Log messages of the AMQP subject transport. Event ids 71xx.</summary>
internal static partial class AmqpSubjectLog
{
    [LoggerMessage(7101, LogLevel.Warning, "Subject connection {Uri} ({ConnectionName}): a handler of subscription '{Subject}' failed; the subscription goes on")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string uri, string connectionName, string subject);

    [LoggerMessage(7102, LogLevel.Error, "Subject connection {Uri} ({ConnectionName}) was lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, string uri, string connectionName, string reason);

    [LoggerMessage(7103, LogLevel.Warning, "Subject connection {Uri} ({ConnectionName}): subscription '{Subject}' dropped a message RabbitMQ.Client cannot read, from queue '{Queue}' (published to '{Exchange}' with routing key '{RoutingKey}'): {Problem}; it was rejected without requeue and the connection goes on ({Unreported} more dropped by this subscription since its last report; at most one report per {Interval} s)")]
    public static partial void UnreadableDropped(ILogger logger, string uri, string connectionName, string subject, string queue, string exchange, string routingKey, string problem, long unreported, int interval);
}
