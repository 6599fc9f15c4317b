using Microsoft.Extensions.Logging;

namespace Federation.Core.Diagnostics;

/// <summary>Log messages about link leases (event ids 11xx), apart so that they read as one story.</summary>
internal static partial class Log
{
    [LoggerMessage(1101, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) waits: {Reason}")]
    public static partial void LinkWaiting(ILogger logger, string linkId, string exchange, string upstream, string reason);

    [LoggerMessage(1102, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) took over lease '{Lease}' after waiting {Waited}")]
    public static partial void LinkLeaseTaken(ILogger logger, string linkId, string exchange, string upstream, string lease, TimeSpan waited);

    [LoggerMessage(1034, LogLevel.Information, "Link {LinkId} ({Exchange} <- {Upstream}) took lease '{Lease}' back by its fallback ask: instance '{Instance}' was handed the link and never took it, so the link stays on this instance and is not handed to that run of '{Instance}' again (a restart of it is a new run)")]
    public static partial void LinkKeptFromUntakenHandover(ILogger logger, string linkId, string exchange, string upstream, string lease, string instance);

    [LoggerMessage(1103, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) lost lease '{Lease}' on the downstream; it stopped consuming and asks for the lease again")]
    public static partial void LinkLeaseLost(ILogger logger, string linkId, string exchange, string upstream, string lease);

    [LoggerMessage(1104, LogLevel.Warning, "Link {LinkId} ({Exchange} <- {Upstream}) failed {Failures} times in a row on this instance while other live instances have it: it lets go of lease '{Lease}' so that one of them can run it, and asks for it again only if none does")]
    public static partial void LinkLeaseGivenUp(ILogger logger, string linkId, string exchange, string upstream, string lease, int failures);
}
