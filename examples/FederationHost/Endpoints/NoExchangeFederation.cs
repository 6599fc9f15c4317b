using Federation.Core;
using Federation.Core.Links;

namespace FederationHost.Endpoints;

/// <summary>
/// The link status of a host that runs broker instances only (no <c>Federation</c> section): no link, nothing to restart.
/// <see cref="HostHealth"/> does not ask it, so its downstream, which does not exist, never reads as down.
/// </summary>
internal sealed class NoExchangeFederation : IFederationStatus
{
    public string? ClusterName => null;

    public bool IsDownstreamConnected => false;

    public IReadOnlyList<LinkStatus> GetLinks() => [];

    public LinkStatus? FindLink(string id) => null;

    public Task<bool> RestartLinkAsync(string id, CancellationToken cancellationToken) => Task.FromResult(false);
}
