using Microsoft.Extensions.Logging;

namespace Federation.Core.Diagnostics;

/// <summary>Log messages about instances sharing links (event ids 12xx): presence, placement and handovers.</summary>
internal static partial class Log
{
    [LoggerMessage(1201, LogLevel.Information, "Instance '{Instance}' sees {Count} live instance(s) of federation '{Cluster}': {Instances}")]
    public static partial void InstancesChanged(ILogger logger, string instance, string cluster, int count, string instances);

    [LoggerMessage(1202, LogLevel.Debug, "Instance '{Instance}' could not announce itself on the downstream; placement counts only the instances it hears")]
    public static partial void PresenceFailed(ILogger logger, Exception exception, string instance);

    [LoggerMessage(1204, LogLevel.Warning, "Instance '{Instance}' cannot announce itself on the downstream ({Cause}); until it can, it does not spread links with the other instances (each link still runs once: the leases decide). Retrying every heartbeat")]
    public static partial void PresenceUnavailable(ILogger logger, string instance, string cause);

    [LoggerMessage(1208, LogLevel.Information, "Instance '{Instance}' announces itself on the downstream again after {Failures} failed attempt(s); it spreads links with the other instances it hears")]
    public static partial void PresenceRecovered(ILogger logger, string instance, int failures);

    [LoggerMessage(1205, LogLevel.Warning, "Link {LinkId}: this instance '{Instance}' holds its lease '{Lease}', and the heartbeats of instance(s) '{Others}' say they hold it too, so the link runs on both and every message crosses it twice. One lease has one holder: the instances keep their leases in different places, most likely another lease-bucket (or other lease settings) on one downstream URI, or another configuration that names the link alike. Give every instance the same downstream URI and configuration (apart from InstanceName). The holder whose name sorts first keeps the link and the others stop it (event 1209); health is degraded until only one holds it")]
    public static partial void LeaseHeldTwice(ILogger logger, string linkId, string lease, string instance, string others);

    [LoggerMessage(1206, LogLevel.Information, "Link {LinkId}: no other instance says any more that it holds lease '{Lease}' while this instance '{Instance}' does")]
    public static partial void LeaseNoLongerHeldTwice(ILogger logger, string linkId, string lease, string instance);

    [LoggerMessage(1207, LogLevel.Warning, "Instance '{Instance}' of federation '{Cluster}' keeps its link leases in {Here}, but instance '{Other}' keeps its own in {There}: leases in different places do not exclude each other, so a link both take runs on both and every message crosses it twice. Use the same lease settings (on NATS, lease-bucket on the downstream URI) on every instance")]
    public static partial void LeasesElsewhere(ILogger logger, string instance, string cluster, string other, string here, string there);

    [LoggerMessage(1209, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}): instance '{Other}' holds it as well, under a lease that does not exclude lease '{Lease}' of this instance '{Instance}', so it ran twice; this instance stopped it (its upstream queue stays) and yields to '{Other}', the first by name, asking for the lease again once '{Other}' no longer holds the link. Fix the lease settings or configuration (see event 1205)")]
    public static partial void LinkYielded(ILogger logger, string linkId, string exchange, string upstream, string instance, string lease, string other);

    [LoggerMessage(1210, LogLevel.Warning, "Instance '{Instance}' of federation '{Cluster}' hears another instance with the same InstanceName '{Instance}' (run {Incarnation}, not this one's {Own}), which started later: that one stands aside and runs no link (it logs event 1215 and reports health degraded), and this run goes on running the links placed on '{Instance}'. Give each instance its own Federation:InstanceName, or leave it unset (machine:pid)")]
    public static partial void NamesakeHeard(ILogger logger, string instance, string cluster, string incarnation, string own);

    [LoggerMessage(1215, LogLevel.Error, "Instance '{Instance}' of federation '{Cluster}' stands aside: another instance runs with the same Federation:InstanceName '{Instance}' (run {Incarnation}, not this one's {Own}) and started first, so this run lets go of every link lease it holds (the upstream queues stay), runs no link and reports health degraded until that run stops, then takes over. Two instances must not share a name: give each its own Federation:InstanceName, or leave it unset (machine:pid)")]
    public static partial void NamesakeStandingAside(ILogger logger, string instance, string cluster, string incarnation, string own);

    [LoggerMessage(1216, LogLevel.Information, "Instance '{Instance}' of federation '{Cluster}' no longer hears run {Incarnation} of its name (it stopped or went silent): this run ({Own}) runs links again")]
    public static partial void NamesakeResumed(ILogger logger, string instance, string cluster, string incarnation, string own);

    [LoggerMessage(1203, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) hands its lease over to instance '{Target}', where placement puts it now")]
    public static partial void LinkHandedOver(ILogger logger, string linkId, string exchange, string upstream, string target);

    [LoggerMessage(1211, LogLevel.Warning, "Instance '{Instance}' of federation '{Cluster}' and instance '{Other}' of another federation, '{OtherCluster}', on the same downstream both run {Count} link(s) that copy the same messages into the same exchange (same downstream vhost and exchange, same upstream broker and exchange): {Links}. Every message these links carry arrives twice. If the two hosts are meant to be one federation, one of them has another cluster name (a typo in Federation:ClusterName, or in cluster-name on a NATS URI, or a default taken from another server): give both the same name. If they are meant to be two, federate each exchange from that upstream in one of them only")]
    public static partial void OtherFederationCarriesLinks(ILogger logger, string instance, string cluster, string other, string otherCluster, int count, string links);

    [LoggerMessage(1212, LogLevel.Information, "Instance '{Instance}' of federation '{Cluster}': instance '{Other}' of federation '{OtherCluster}' and this instance no longer both run links that carry the same messages (one of the two stopped, handed such a link over within its federation, or had its configuration changed)")]
    public static partial void OtherFederationNoLongerCarriesLinks(ILogger logger, string instance, string cluster, string other, string otherCluster);

    [LoggerMessage(1213, LogLevel.Information, "Instance '{Instance}' cannot use the exchange '{Exchange}' that the federations on one downstream share ({Cause}), so it neither tells other federations which links it runs nor hears theirs: a second federation that copies the same messages (a host with a typo in its cluster name, say) goes unnoticed. Everything else works as before. Grant the downstream user configure, write and read permission on it to have such mistakes reported")]
    public static partial void BeaconsUnavailable(ILogger logger, Exception exception, string instance, string exchange, string cause);

    [LoggerMessage(1214, LogLevel.Debug, "Instance '{Instance}' could not publish to '{Exchange}'; it tries again on the next connection to the downstream")]
    public static partial void BeaconFailed(ILogger logger, Exception exception, string instance, string exchange);
}
