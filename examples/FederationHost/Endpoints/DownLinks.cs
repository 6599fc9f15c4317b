using Federation.Core;
using Federation.Core.Links;

namespace FederationHost.Endpoints;

/// <summary>
/// What <c>GET /federation/links?only-down=true</c> (and so <c>status --only-down</c>) lists: the links that do not
/// forward because of an error this host can see, which is also what makes <c>/health</c> unhealthy or degraded. A link in
/// <c>error</c> (or <c>shutdown</c>) is down. While this host has no downstream connection, every link is: none can forward,
/// and <c>/health</c> answers 503, even though a link on a standby host still reads <c>waiting</c> (its state is about the
/// lease, which it cannot ask for without the downstream) and a running one may not have noticed yet. A <c>waiting</c>
/// link on a host whose downstream is connected is not down: another host runs it.
/// </summary>
public static class DownLinks
{
    /// <summary>Why every link of a host without its downstream is down, for the links that show no error of their own; null while it is connected.</summary>
    public static string? DownstreamProblem(IFederationStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (status.IsDownstreamConnected)
        {
            return null;
        }

        return status.DownstreamError is { } cause ? $"The downstream broker is not connected: {cause}" : "The downstream broker is not connected.";
    }

    /// <summary>Whether <paramref name="link"/> is down, given <see cref="DownstreamProblem"/> of its host.</summary>
    public static bool IsDown(LinkStatus link, string? downstreamProblem)
    {
        ArgumentNullException.ThrowIfNull(link);
        return downstreamProblem is not null || link.State is not (LinkState.Running or LinkState.Starting or LinkState.Waiting);
    }
}
