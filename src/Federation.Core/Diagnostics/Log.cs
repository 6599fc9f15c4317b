using Microsoft.Extensions.Logging;

namespace Federation.Core.Diagnostics;

/// <summary>All log messages of the engine, source-generated. Event ids: 1xxx links, 2xxx supervisor, 3xxx hosting.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) running against {Uri}, queue '{Queue}', generation {Generation}")]
    public static partial void LinkRunning(ILogger logger, string linkId, string exchange, string upstream, string uri, string queue, char generation);

    [LoggerMessage(1002, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) failed against {Uri}: {Cause}; retrying in {Delay}")]
    public static partial void LinkFailed(ILogger logger, string linkId, string exchange, string upstream, string uri, string cause, TimeSpan delay);

    [LoggerMessage(1003, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) stopped; upstream objects {Cleanup}")]
    public static partial void LinkStopped(ILogger logger, string linkId, string exchange, string upstream, string cleanup);

    [LoggerMessage(1004, LogLevel.Debug, "Link {LinkId} dropped a message ({Reason}): x-received-from has {Hops} hop(s), max-hops {MaxHops}")]
    public static partial void MessageDropped(ILogger logger, string linkId, string reason, int hops, int maxHops);

    [LoggerMessage(1106, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) switches its kind of upstream queue ({Change}): the new run's queue was declared and bound before the old run stops (make before break), so what the upstream publishes during the switch is forwarded; messages both runs received arrive twice")]
    public static partial void UpstreamQueuePrepared(ILogger logger, string linkId, string exchange, string upstream, string change);

    [LoggerMessage(1107, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) switches its kind of upstream queue ({Change}), but could not declare and bind the new one before the old run stops ({Cause}): what the upstream publishes until the new run has subscribed or pulled is not forwarded")]
    public static partial void UpstreamQueueNotPrepared(ILogger logger, string linkId, string exchange, string upstream, string change, string cause);

    [LoggerMessage(1011, LogLevel.Warning, "Link {LinkId} lost {Count} message(s) ({Reason}){Cause}; further losses are counted in federation.link.messages.dropped and the link status, and belong to this episode until the link has forwarded for {SettlePeriod} without one")]
    public static partial void MessagesLost(ILogger logger, string linkId, long count, string reason, string cause, TimeSpan settlePeriod);

    [LoggerMessage(1027, LogLevel.Debug, "Link {LinkId} lost {Count} more message(s) ({Reason}): {Cause}")]
    public static partial void MessageLostAgain(ILogger logger, string linkId, long count, string reason, string cause);

    [LoggerMessage(1016, LogLevel.Debug, "Link {LinkId} dropped another message the downstream can never take ({Reason}): {Cause}")]
    public static partial void MessageRefusedAgain(ILogger logger, string linkId, string reason, string cause);

    [LoggerMessage(1017, LogLevel.Warning, "Link {LinkId}: its upstream consumer did not stop within {Timeout} while the link stopped (the upstream did not answer, or a delivery in hand still waited for the downstream); its connection is closed in the background, its upstream objects are not cleaned up, and what it had not acknowledged is redelivered")]
    public static partial void UpstreamTeardownAbandoned(ILogger logger, string linkId, TimeSpan timeout);

    [LoggerMessage(1018, LogLevel.Warning, "Link {LinkId}: the upstream exchange '{UpstreamExchange}' was deleted and declared again since the last check, which took the link's bindings from it; {Count} binding(s) were declared again")]
    public static partial void UpstreamExchangeRecreated(ILogger logger, string linkId, string upstreamExchange, int count);

    [LoggerMessage(1019, LogLevel.Warning, "Link {LinkId}: the sentinel that tells when the upstream exchange '{UpstreamExchange}' is deleted and declared again could not be put in place ({Cause}); the periodic check can only see that it exists, and bindings lost with a re-created exchange come back at the link's next restart. Not said again for this cause until a run has the sentinel in place")]
    public static partial void UpstreamSentinelRefused(ILogger logger, string linkId, string upstreamExchange, string cause);

    [LoggerMessage(1013, LogLevel.Information, "Link {LinkId}: duplicate suppression on, {Identities} identities read back from ledger '{Ledger}' ({Records} record(s))")]
    public static partial void LedgerLoaded(ILogger logger, string linkId, int identities, string ledger, int records);

    [LoggerMessage(1014, LogLevel.Debug, "Link {LinkId}: duplicate suppression is off, the downstream transport keeps no ledger")]
    public static partial void LedgerUnsupported(ILogger logger, string linkId);

    [LoggerMessage(1012, LogLevel.Information, "Link {LinkId} forwards again; {Count} message(s) were lost in that episode")]
    public static partial void ForwardingAfterLoss(ILogger logger, string linkId, long count);

    [LoggerMessage(1032, LogLevel.Information, "Link {LinkId} stopped during a loss episode; {Count} message(s) were lost in that episode")]
    public static partial void StoppedInLossEpisode(ILogger logger, string linkId, long count);

    [LoggerMessage(1005, LogLevel.Warning, "Link {LinkId}: the downstream refused a message (nacked): {Cause}; it was returned to the upstream queue and the link retries. Further refusals are logged at debug until the link has forwarded for {SettlePeriod} without one")]
    public static partial void PublishNacked(ILogger logger, string linkId, string cause, TimeSpan settlePeriod);

    [LoggerMessage(1020, LogLevel.Debug, "Link {LinkId}: the downstream refused another message (nacked): {Cause}; it was returned to the upstream queue")]
    public static partial void PublishNackedAgain(ILogger logger, string linkId, string cause);

    [LoggerMessage(1021, LogLevel.Information, "Link {LinkId}: the downstream takes messages again; {Count} message(s) were refused (nacked) and returned to the upstream queue in that episode")]
    public static partial void DownstreamAcceptsAgain(ILogger logger, string linkId, long count);

    [LoggerMessage(1033, LogLevel.Information, "Link {LinkId} stopped during a refusal episode; {Count} message(s) were refused (nacked) and returned to the upstream queue in that episode")]
    public static partial void StoppedInNackEpisode(ILogger logger, string linkId, long count);

    [LoggerMessage(1029, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}): the downstream failed the commit of a unit of {Count} message(s) forwarded to the exchange: {Cause}. A queue bound to it refused some of them (x-overflow reject-publish at its limit, say) while others may have been stored with the unit's ledger record; the record is revoked, and the messages are not acknowledged upstream: they are forwarded again when the link restarts (unless the link is being removed with its upstream queue), so a queue that took one gets it twice (as the plugin does with a nacked message). Further ones are logged at debug until the link has forwarded for {SettlePeriod} without one")]
    public static partial void UnitPartlyCommitted(ILogger logger, string linkId, string exchange, string upstream, int count, string cause, TimeSpan settlePeriod);

    [LoggerMessage(1030, LogLevel.Debug, "Link {LinkId}: the downstream failed the commit of another unit of {Count} message(s) in part: {Cause}; its ledger record is revoked and the messages are not acknowledged upstream")]
    public static partial void UnitPartlyCommittedAgain(ILogger logger, string linkId, int count, string cause);

    [LoggerMessage(1006, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) dropped {Count} message(s) as duplicates of ones it forwarded earlier with the same message-id ('{MessageId}' the last), though the upstream did not flag them as redelivered: a publisher that reuses message ids loses messages this way (duplicate-suppression treats one message-id as one message; turn it off for such publishers). Logged at most once a minute.")]
    public static partial void ReusedMessageIds(ILogger logger, string linkId, string exchange, string upstream, long count, string messageId);

    /// <summary>
    /// Event 1007, a warning with the cause in one line, and the exception at debug (1105). The usual causes are operating
    /// conditions (an upstream vhost or user gone, a refused permission, the stop's deadline), and the operator's action
    /// (delete the objects by hand) does not depend on where it threw: a stack trace at warning only buried the cause.
    /// </summary>
    public static void CleanupFailed(ILogger logger, Exception exception, string linkId)
    {
        CleanupFailedCause(logger, linkId, FailureEpisode.Describe(exception));
        CleanupFailedDetail(logger, exception, linkId);
    }

    [LoggerMessage(1007, LogLevel.Warning, "Link {LinkId}: cleaning up upstream objects failed ({Cause}); they stay on the upstream")]
    private static partial void CleanupFailedCause(ILogger logger, string linkId, string cause);

    [LoggerMessage(1105, LogLevel.Debug, "Link {LinkId}: cleaning up upstream objects failed (event 1007)")]
    private static partial void CleanupFailedDetail(ILogger logger, Exception exception, string linkId);

    [LoggerMessage(1028, LogLevel.Warning, "Link {LinkId}: deleting upstream queue '{Queue}' discards {Count} message(s) it held ({Why})")]
    public static partial void BufferedMessagesDiscarded(ILogger logger, string linkId, string queue, string count, string why);

    // The cause as one line, no stack trace: the usual causes (an alarm, a lost connection, the stop's deadline) are
    // expected operating conditions, and the operator's action (delete the ledger by hand) does not depend on where it threw.
    [LoggerMessage(1031, LogLevel.Warning, "Link {LinkId}: deleting its ledger '{Ledger}' on the downstream failed ({Cause}); it stays there (delete it by hand)")]
    public static partial void LedgerCleanupFailed(ILogger logger, string linkId, string ledger, string cause);

    [LoggerMessage(1008, LogLevel.Debug, "Link {LinkId} attempt {Attempt} against {Uri} failed")]
    public static partial void LinkAttemptFailed(ILogger logger, Exception exception, string linkId, int attempt, string uri);

    [LoggerMessage(1009, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) still failing after {Attempts} attempts, last against {Uri}: {Cause}; next retry in {Delay}")]
    public static partial void LinkStillFailing(ILogger logger, string linkId, string exchange, string upstream, int attempts, string uri, string cause, TimeSpan delay);

    [LoggerMessage(1010, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) up again after {Attempts} failed attempt(s)")]
    public static partial void LinkRecovered(ILogger logger, string linkId, string exchange, string upstream, int attempts);

    [LoggerMessage(2001, LogLevel.Information, "Federation connected to downstream {Uri} as cluster '{ClusterName}', vhost '{VirtualHost}'")]
    public static partial void DownstreamConnected(ILogger logger, string uri, string clusterName, string virtualHost);

    [LoggerMessage(2027, LogLevel.Warning, "Federation: downstream {Uri} is now cluster '{ClusterName}', was '{PreviousName}', with the same configuration: link ids, leases and upstream queue names derive from the cluster name, so every link starts anew under the new name, with a new upstream queue. The links under '{PreviousName}' stop keeping their upstream queues bound, buffering (event 2035); once the link under the new name has bound its own, the instance that runs it forwards what the old queue holds and deletes it, while it holds the old link's lease and no other instance still under '{PreviousName}' has the link. Set Federation:ClusterName to keep one name")]
    public static partial void DownstreamClusterNameChanged(ILogger logger, string uri, string clusterName, string previousName);

    [LoggerMessage(2024, LogLevel.Warning, "Federation: downstream {Uri} had not closed its connection when {Limit} ended the wait ({WaitedMs} ms waited here); it closes in the background")]
    public static partial void DownstreamCloseAbandoned(ILogger logger, string uri, long waitedMs, string limit);

    [LoggerMessage(2028, LogLevel.Warning, "Federation: downstream {Uri} blocks what the links publish ({Reason}): a resource alarm on the broker; links hold their messages until it clears")]
    public static partial void DownstreamBlocked(ILogger logger, string uri, string reason);

    [LoggerMessage(2029, LogLevel.Information, "Federation: downstream {Uri} takes what the links publish again, after blocking it for {Duration}")]
    public static partial void DownstreamUnblocked(ILogger logger, string uri, TimeSpan duration);

    [LoggerMessage(2041, LogLevel.Warning, "Federation lost its connection to downstream {Uri}: {Cause}. The links stop consuming, keep their upstream queues and start again on the next connection")]
    public static partial void DownstreamLost(ILogger logger, string uri, string cause);

    [LoggerMessage(2002, LogLevel.Warning, "Federation could not use downstream {Uri}: {Cause}; retrying in {Delay}")]
    public static partial void DownstreamFailed(ILogger logger, string uri, string cause, TimeSpan delay);

    [LoggerMessage(2003, LogLevel.Information, "Starting link {LinkId}: {Exchange} <- {Upstream}")]
    public static partial void LinkStarting(ILogger logger, string linkId, string exchange, string upstream);

    [LoggerMessage(2017, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) takes its new definition without a restart (policy '{OldPolicy}' -> '{NewPolicy}'): nothing that moves messages changed")]
    public static partial void LinkUpdated(ILogger logger, string linkId, string exchange, string upstream, string oldPolicy, string newPolicy);

    [LoggerMessage(2018, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) restarts {Why} and keeps its upstream queue: the new run consumes what it buffered{Caveat}")]
    public static partial void LinkReplacedKeepingQueue(ILogger logger, string linkId, string exchange, string upstream, string why, string caveat);

    [LoggerMessage(2030, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) is no longer in the configuration; its upstream queue is kept for link {NextLinkId} ({Exchange} <- {NextUpstream}), which declares the same queue on the same upstream and consumes what it buffered")]
    public static partial void LinkQueueTakenOver(ILogger logger, string linkId, string exchange, string upstream, string nextLinkId, string nextUpstream);

    // One line per broker and pass, however many links moved from or to it (see UpstreamCluster).
    [LoggerMessage(2037, LogLevel.Warning, "Could not tell whether upstream {Uris} reaches the same cluster and vhost as the other side of a reload that moved links to URIs sharing no address with their old ones: {Reason}. The old upstream queue of each such link is {Outcome}")]
    public static partial void SameClusterProbeFailed(ILogger logger, string uris, string reason, string outcome);

    [LoggerMessage(2019, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) {Why}; its upstream queue is kept for instance(s) {Instances}, which still run or wait for it")]
    public static partial void LinkStoppedForOthers(ILogger logger, string linkId, string exchange, string upstream, string why, string instances);

    [LoggerMessage(2020, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) restarts under a new definition that {Why}: its upstream queue is deleted (unless resource-cleanup-mode is never), discarding the messages it buffers")]
    public static partial void LinkReplacedDiscarding(ILogger logger, string linkId, string exchange, string upstream, string why);

    [LoggerMessage(2042, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) restarts under a new definition that declares its upstream queue with other arguments ({Difference}), and resource-cleanup-mode is never: the queue and what it buffers are kept, and the upstream will refuse to declare it with the new arguments (406 PRECONDITION_FAILED), so the link fails until the queue is deleted by hand (the link's error names it) or the change is undone")]
    public static partial void LinkReplacedKeepingRefusedQueue(ILogger logger, string linkId, string exchange, string upstream, string difference);

    [LoggerMessage(2043, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) {Why}, which declares its upstream queue with other arguments ({Difference}): the upstream refuses those for the existing queue, so the new run hands it over to a queue declared anew, forwarding what it buffers (events 1035 and 1036); nothing is discarded, some messages may arrive twice")]
    public static partial void LinkReplacedHandingQueueOver(ILogger logger, string linkId, string exchange, string upstream, string why, string difference);

    [LoggerMessage(1035, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}): the upstream refuses to declare queue '{Queue}' with the link's arguments (it exists with others, holding {Count} message(s)); what is routed to it goes to '{Handover}' meanwhile, while the link forwards what the queue holds, deletes it and declares it anew")]
    public static partial void UpstreamQueueHandoverStarted(ILogger logger, string linkId, string exchange, string upstream, string queue, long count, string handover);

    [LoggerMessage(1036, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) forwarded what '{Handover}' held ({Count} message(s) when it was unbound), which took upstream queue '{Queue}''s place while that was declared anew; '{Handover}' is {Outcome}")]
    public static partial void UpstreamQueueHandoverFinished(ILogger logger, string linkId, string exchange, string upstream, string handover, long count, string queue, string outcome);

    [LoggerMessage(2044, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) failed to set up ({Cause}) while handover queue '{Handover}' stands in for upstream queue '{Queue}': it holds {Count} message(s) routed to the link, and receives more, which the link forwards once a run declares '{Queue}' again; fix the cause. Each failed attempt declares it again, so it does not expire while the link retries; were the link removed while no host runs it, it would go after {Expiry} unused, discarding what it holds")]
    public static partial void HandoverQueueStranded(ILogger logger, string linkId, string exchange, string upstream, string cause, string handover, string queue, long count, TimeSpan expiry);

    [LoggerMessage(2021, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) was removed from this instance's configuration while instance(s) {Instances} still had it, and no live instance has it any more: its upstream objects are deleted")]
    public static partial void RemovedLinkQueueDeleted(ILogger logger, string linkId, string exchange, string upstream, string instances);

    [LoggerMessage(2025, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) was moved by a reload to another upstream or kind of upstream queue, and no live instance has it from the old one ({OldUri}) any more: its upstream objects there are deleted")]
    public static partial void MovedLinkQueueDeleted(ILogger logger, string linkId, string exchange, string upstream, string oldUri);

    [LoggerMessage(2026, LogLevel.Debug, "Link {LinkId}, moved by a reload to another upstream or kind of upstream queue: its queue on the old one stays, as {Why}")]
    public static partial void MovedLinkQueueStillKept(ILogger logger, string linkId, string why);

    [LoggerMessage(2022, LogLevel.Debug, "Link {LinkId}, removed from this instance's configuration: its upstream queue stays, as {Why}")]
    public static partial void RemovedLinkQueueStillKept(ILogger logger, string linkId, string why);

    // The cause in one line: an unreachable upstream or downstream is the usual one, and the queue stays either way.
    [LoggerMessage(2023, LogLevel.Warning, "Link {LinkId}, {What}: looking again whether the upstream queue it left behind may go failed ({Cause}); the queue stays on the upstream, and goes on filling while bound: delete it by hand if no instance needs it")]
    public static partial void RemovedLinkSweepFailed(ILogger logger, string linkId, string what, string cause);

    [LoggerMessage(2004, LogLevel.Warning, "Two upstream set elements resolve to the same link {LinkId} ({Exchange} <- {Upstream}, exchange '{UpstreamExchange}'); only the first is used")]
    public static partial void DuplicateLink(ILogger logger, string linkId, string exchange, string upstream, string upstreamExchange);

    [LoggerMessage(2005, LogLevel.Error, "Federation supervisor failed unexpectedly")]
    public static partial void SupervisorFailed(ILogger logger, Exception exception);

    [LoggerMessage(2006, LogLevel.Warning, "Federation: a downstream topology change after serial {Serial} never arrived; resynchronising from a snapshot")]
    public static partial void TopologyResync(ILogger logger, long serial);

    [LoggerMessage(2007, LogLevel.Warning, "Federation (explicit topology) could not apply '{Change}' to downstream {Uri}")]
    public static partial void ExplicitTopologyFailed(ILogger logger, Exception exception, string change, string uri);

    [LoggerMessage(2008, LogLevel.Debug, "Federation downstream attempt {Attempt} against {Uri} failed")]
    public static partial void DownstreamAttemptFailed(ILogger logger, Exception exception, int attempt, string uri);

    [LoggerMessage(2009, LogLevel.Warning, "Federation still cannot use downstream {Uri} after {Attempts} attempts: {Cause}; next retry in {Delay}")]
    public static partial void DownstreamStillFailing(ILogger logger, string uri, int attempts, string cause, TimeSpan delay);

    [LoggerMessage(2010, LogLevel.Information, "Federation downstream {Uri} up again after {Attempts} failed attempt(s)")]
    public static partial void DownstreamRecovered(ILogger logger, string uri, int attempts);

    [LoggerMessage(2011, LogLevel.Error, "Federation could not apply a configuration change completely; it keeps running and takes the next one")]
    public static partial void ReconfigurationFailed(ILogger logger, Exception exception);

    [LoggerMessage(2013, LogLevel.Warning, "Federation stop was cut short by the shutdown deadline; abandoned: {Abandoned}")]
    public static partial void StopAbandoned(ILogger logger, string abandoned);

    [LoggerMessage(2014, LogLevel.Warning, "Federation stopping: abandoned {Abandoned}")]
    public static partial void ConnectsAbandoned(ILogger logger, string abandoned);

    [LoggerMessage(2015, LogLevel.Warning, "Upstream set '{Set}' element {Index} ({Upstream}) is identical to element {FirstIndex}; it is used once (one link per distinct element)")]
    public static partial void DuplicateSetElement(ILogger logger, string set, int index, string upstream, int firstIndex);

    [LoggerMessage(2016, LogLevel.Warning, "Federation configuration changed {Changes}, which take effect only at start: the running values stay until a restart; the rest of the change is applied")]
    public static partial void StartOnlySettingsChanged(ILogger logger, string changes);

    [LoggerMessage(3001, LogLevel.Warning, "Federation configuration reload refused; the running configuration is kept. {ErrorCount} error(s): {Errors}")]
    public static partial void ReloadRejected(ILogger logger, int errorCount, string errors);

    [LoggerMessage(3002, LogLevel.Information, "Federation configuration reloaded")]
    public static partial void Reloaded(ILogger logger);

    [LoggerMessage(3003, LogLevel.Error, "Federation configuration reload failed: {Reason}; the engine keeps running and takes the next reload")]
    public static partial void ReloadFailed(ILogger logger, string reason);

    [LoggerMessage(3004, LogLevel.Error, "Stopping {Service} failed; the host goes on stopping")]
    public static partial void StopFailed(ILogger logger, Exception exception, string service);

    [LoggerMessage(2031, LogLevel.Warning, "Policy '{Policy}' (pattern '{Pattern}') applies to none of the downstream's {Exchanges} exchange(s), so it federates nothing until an exchange it matches is declared: check the pattern (a typo, an unescaped or a missing character), and whether a policy of higher priority takes the exchanges it matches")]
    public static partial void PolicyAppliesToNone(ILogger logger, string policy, string pattern, int exchanges);

    [LoggerMessage(2032, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) federates another downstream after a reload (another cluster name or virtual host): its upstream queue is kept, buffering what the upstream publishes, until the link of the new downstream from the same upstream exchange has declared and bound its own; then {Then}")]
    public static partial void LinkRetiredKeepingQueue(ILogger logger, string linkId, string exchange, string upstream, string then);

    [LoggerMessage(2038, LogLevel.Information, "Federation: the reloaded downstream URI {Uri} shares no address with the previous one but reaches the same cluster ('{ClusterName}') and vhost ('{VirtualHost}'), as the broker names itself once connected: the links keep their ids, upstream queues and duplicate-suppression ledgers, and restart on a new connection")]
    public static partial void DownstreamReachedAnotherWay(ILogger logger, string uri, string clusterName, string virtualHost);

    [LoggerMessage(2039, LogLevel.Warning, "Federation could not tell whether the reloaded downstream URI {Uri}, which shares no address with the previous one, reaches the same cluster and vhost as the links run under: {Reason}. The links start over as for another downstream: their duplicate-suppression ledgers are dropped (set Federation:ClusterName to keep them across such a reload)")]
    public static partial void DownstreamClusterProbeFailed(ILogger logger, string uri, string reason);

    [LoggerMessage(2033, LogLevel.Information, "Link {NewLinkId} forwarded what the upstream queue of link {LinkId}, which it replaced when the downstream was renamed (by a reload, or by the broker itself, event 2027), held; upstream objects {Cleanup}")]
    public static partial void RetiredQueueForwarded(ILogger logger, string newLinkId, string linkId, string cleanup);

    [LoggerMessage(2034, LogLevel.Warning, "Link {NewLinkId} could not forward what the upstream queue of link {LinkId}, which it replaced when the downstream was renamed (by a reload, or by the broker itself, event 2027), holds: {Cause}; trying again in {Delay}")]
    public static partial void RetiredQueueForwardFailed(ILogger logger, string newLinkId, string linkId, string cause, TimeSpan delay);

    [LoggerMessage(2035, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) stops: the downstream now names itself '{ClusterName}' (event 2027). Its upstream queue is kept, buffering what the upstream publishes, until the link under the new name from the same upstream exchange has bound its own; then the instance that runs that link forwards what the old queue holds and deletes it, once no other instance still under the previous name has this link (by the heartbeats) and while it holds this link's lease")]
    public static partial void LinkRenamedKeepingQueue(ILogger logger, string linkId, string exchange, string upstream, string clusterName);

    [LoggerMessage(2036, LogLevel.Information, "Link {NewLinkId} does not forward the upstream queue of link {LinkId}, which it replaced when the downstream was renamed (by a reload, or by the broker itself, event 2027), yet: {Reason}. The queue stays, buffering; it is looked at again every few seconds")]
    public static partial void RenamedQueueWaiting(ILogger logger, string newLinkId, string linkId, string reason);

    [LoggerMessage(2040, LogLevel.Warning, "Link {LinkId} cannot finish forwarding upstream queue '{Queue}', which a renamed downstream left behind: {Consumers} consumer(s) not of this link hold it. It is not deleted while they do, since that would lose what they have not acknowledged; the link consumes it again every second and deletes it once they have gone")]
    public static partial void RetiredQueueHeldByOtherConsumers(ILogger logger, string linkId, string queue, long consumers);
}
