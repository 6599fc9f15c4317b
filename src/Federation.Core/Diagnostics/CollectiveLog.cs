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
    // An instance whose CollectiveUri names another collective's server takes its share of the cluster's requests and
    // forwards them where their targets are not: nothing else would say so (bbcoll saw 129 of 500 requests unanswered).
    [LoggerMessage(4012, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}' (collective {Collective}) and instance '{Peer}' of the same cluster (collective {PeerCollective}, server {PeerServer}) do not share a collective: the other's announcements reach this instance on the federation but not on its collective. Requests either takes are forwarded where the other's targets are not and go unanswered; give every instance of a cluster the same collective")]
    public static partial void CollectiveMismatch(ILogger logger, string cluster, string instance, string collective, string peer, string peerCollective, string peerServer);

    [LoggerMessage(4013, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}' and instance '{Peer}' no longer look like serving different collectives: {Why}")]
    public static partial void CollectiveMismatchEnded(ILogger logger, string cluster, string instance, string peer, string why);

    [LoggerMessage(4014, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}': another run ({OtherRun}) uses the same instance name (this run is {Run}); their seen-by hops, connection names and metrics cannot be told apart. Give each instance its own InstanceName, or leave it unset")]
    public static partial void InstanceNameShared(ILogger logger, string cluster, string instance, string run, string otherRun);

    [LoggerMessage(4015, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}': the other run ({OtherRun}) under this instance's name is no longer heard")]
    public static partial void InstanceNameSharedEnded(ILogger logger, string cluster, string instance, string otherRun);

    // Anything that can publish on the roll-call subject can announce made-up instances: past the bound they are ignored,
    // or every one of them would cost memory, a warning and a line in the health report.
    [LoggerMessage(4016, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}': more than {MaxInstances} other instances announce themselves on '{Subject}'; the announcements of the others are ignored (a flood of made-up announcements? anything that may publish there can send them), so a misconfigured instance among them is not detected")]
    public static partial void RollCallOverflow(ILogger logger, string cluster, string instance, int maxInstances, string subject);

    [LoggerMessage(4017, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}': at most {MaxInstances} other instances announce themselves again; {Ignored} announcement(s) were ignored")]
    public static partial void RollCallOverflowEnded(ILogger logger, string cluster, string instance, int maxInstances, long ignored);

    // FederationUri naming the collective's server (or another server of its NATS cluster, or the same vhost): nothing is
    // federated, and the instance takes its share of the replies of the cluster's instances on that collective, which it
    // sends where their clients are not (a black-box run, 7 Dec 2026: 40 of 600 replies lost, every host healthy).
    [LoggerMessage(4018, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}': its federation and its collective ({Collective}) are one message bus: each of its announcements came back twice on one connection. It federates nothing, and it takes a share of the replies of the cluster's instances on that collective and sends them where their clients are not. Give FederationUri the federation's server")]
    public static partial void SameBus(ILogger logger, string cluster, string instance, string collective);

    [LoggerMessage(4019, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}': its federation and its collective are no longer one message bus (its announcement came back once on each connection)")]
    public static partial void SameBusEnded(ILogger logger, string cluster, string instance);

    [LoggerMessage(4020, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}' rejected a {Direction} on '{Subject}' ({ErrorType}): {Detail}. It is dropped; further rejected messages are counted in federation.broker.errors (and logged at Debug, event 4005) until {QuietPeriod} passes without one")]
    public static partial void RejectionsStarted(ILogger logger, string cluster, string instance, string direction, string subject, string errorType, string detail, TimeSpan quietPeriod);

    [LoggerMessage(4021, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}': no message rejected for {QuietPeriod}; {Count} message(s) were rejected in that episode (federation.broker.errors has them by error.type)")]
    public static partial void RejectionsEnded(ILogger logger, string cluster, string instance, long count, TimeSpan quietPeriod);

    [LoggerMessage(4022, LogLevel.Warning, "Federation broker '{Cluster}' instance '{Instance}': instance '{Peer}' of the same cluster (collective {PeerCollective}) is heard on this instance's collective but not on its federation: it is attached to another federation (its FederationUri names another server, such as this collective's). It takes a share of this cluster's replies on this collective and sends them where their clients are not; fix or stop that instance")]
    public static partial void FederationMismatch(ILogger logger, string cluster, string instance, string peer, string peerCollective);

    [LoggerMessage(4023, LogLevel.Information, "Federation broker '{Cluster}' instance '{Instance}': instance '{Peer}' is no longer heard on this collective only")]
    public static partial void FederationMismatchEnded(ILogger logger, string cluster, string instance, string peer);
}
