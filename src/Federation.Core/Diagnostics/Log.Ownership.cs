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

    [LoggerMessage(1203, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) hands its lease over to instance '{Target}', where placement puts it now")]
    public static partial void LinkHandedOver(ILogger logger, string linkId, string exchange, string upstream, string target);
}
