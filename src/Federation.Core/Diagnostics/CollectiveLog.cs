using Microsoft.Extensions.Logging;

namespace Federation.Core.Diagnostics;

/// <summary>Log messages of the Federation of Collectives and the in-memory subject bus, source-generated. Event ids 4xxx.</summary>
internal static partial class CollectiveLog
{
    [LoggerMessage(4001, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}' running: federation {FederationUri} (subject '{FederationSubject}'), collective {CollectiveUri} (subject '{CollectiveSubject}')")]
    public static partial void BrokerRunning(ILogger logger, string cluster, string instance, string federationUri, string federationSubject, string collectiveUri, string collectiveSubject);

    [LoggerMessage(4002, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}' stopped")]
    public static partial void BrokerStopped(ILogger logger, string cluster, string instance);

    // An unreachable or lost server is expected operation, not a bug: the warnings carry the cause in one line, and the
    // exceptions with their stacks go to debug (4008, every attempt), as the exchange links' failure episodes do.
    [LoggerMessage(4003, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}' lost a connection: {Cause}; reconnecting")]
    public static partial void BrokerConnectionLost(ILogger logger, string cluster, string instance, string cause);

    [LoggerMessage(4004, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}' could not connect: {Cause}; retrying in {Delay}")]
    public static partial void BrokerConnectFailed(ILogger logger, string cluster, string instance, string cause, TimeSpan delay);

    [LoggerMessage(4005, LogLevel.Debug, "Federation broker '{Cluster}' instance '{Instance}' rejected a {Direction} on '{Subject}' ({ErrorType}): {Detail}")]
    public static partial void MessageRejected(ILogger logger, string cluster, string instance, string direction, string subject, string errorType, string detail);

    [LoggerMessage(4006, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}' failed to publish a {Direction} to '{Subject}'; it is lost (at-most-once). {Suppressed} other failed publish(es) since the previous warning were counted but not logged (at most one warning per {Interval})")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string cluster, string instance, string direction, string subject, long suppressed, TimeSpan interval);

    [LoggerMessage(4011, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}' failed to publish {Count} more message(s) in the {Interval} after its last warning about a failed publish; they are lost (at-most-once) and counted in federation.broker.errors (publish_failed)")]
    public static partial void PublishFailuresSummarised(ILogger logger, string cluster, string instance, long count, TimeSpan interval);

    [LoggerMessage(4007, LogLevel.Warning, "A subscription handler on '{Subject}' ({Uri}) threw; the message is dropped and delivery goes on")]
    public static partial void SubjectHandlerFailed(ILogger logger, Exception exception, string subject, string uri);

    [LoggerMessage(4008, LogLevel.Debug, "Federation broker '{Cluster}' instance '{Instance}' connect attempt {Attempt} failed; retrying in {Delay}")]
    public static partial void BrokerConnectAttemptFailed(ILogger logger, Exception? exception, string cluster, string instance, int attempt, TimeSpan delay);

    [LoggerMessage(4009, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}' still cannot connect after {Attempts} attempts: {Cause}; next retry in {Delay}")]
    public static partial void BrokerStillFailing(ILogger logger, string cluster, string instance, int attempts, string cause, TimeSpan delay);

    [LoggerMessage(4010, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}' connected again after {Attempts} failed attempt(s)")]
    public static partial void BrokerReconnected(ILogger logger, string cluster, string instance, int attempts);
}
