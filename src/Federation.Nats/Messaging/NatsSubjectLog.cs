using Microsoft.Extensions.Logging;

namespace Federation.Nats.Messaging;

/// <summary>Log messages of the NATS subject transport. Event ids 6xxx.</summary>
internal static partial class NatsSubjectLog
{
    [LoggerMessage(6001, LogLevel.Warning, "Subject connection {Uri} ({ConnectionName}): a handler of subscription '{Subject}' failed; the subscription goes on")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string uri, string connectionName, string subject);

    [LoggerMessage(6002, LogLevel.Warning, "Subject connection {Uri} ({ConnectionName}) lost server {Server}; reconnecting")]
    public static partial void Disconnected(ILogger logger, Exception? exception, string uri, string connectionName, string? server);

    [LoggerMessage(6003, LogLevel.Information, "Subject connection {Uri} ({ConnectionName}) reconnected to {Server}; subscriptions replayed")]
    public static partial void Reconnected(ILogger logger, string uri, string connectionName, string? server);

    [LoggerMessage(6004, LogLevel.Error, "Subject connection {Uri} ({ConnectionName}) closed for good: it gave up reconnecting")]
    public static partial void ClosedForGood(ILogger logger, string uri, string connectionName);

    [LoggerMessage(6006, LogLevel.Warning, "Subject connection {Uri} ({ConnectionName}): a message on '{Subject}' was dropped ({Reason}); {Total} dropped so far (logged at 1, 10, 100, ...)")]
    public static partial void MessagesDropped(ILogger logger, string uri, string connectionName, string subject, string reason, long total);

    [LoggerMessage(6005, LogLevel.Warning, "Subject connection {Uri} ({ConnectionName}): server error {Error}")]
    public static partial void ServerError(ILogger logger, string uri, string connectionName, string error);

    [LoggerMessage(6007, LogLevel.Error, "Subject connection {Uri} ({ConnectionName}): the server refused the subscription to '{Subject}' (permissions violation: the user may not subscribe to it); the connection is closed and its owner retries")]
    public static partial void SubscriptionRefused(ILogger logger, string uri, string connectionName, string subject);
}
