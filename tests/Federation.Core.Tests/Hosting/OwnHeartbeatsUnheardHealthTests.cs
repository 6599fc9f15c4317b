using Federation.Core.Hosting;
using Federation.Core.Links;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Core.Tests.Hosting;

/// <summary>
/// Health of an instance that does not hear its own heartbeats through a downstream that still reads as connected (black-box
/// run, 7 Dec 2026: a host whose downstream connection was frozen answered Healthy, its links running, while the other hosts
/// showed those links in error).
/// </summary>
public sealed class OwnHeartbeatsUnheardHealthTests
{
    [Fact]
    public async Task An_instance_that_does_not_hear_its_own_heartbeats_is_degraded_and_says_why()
    {
        const string why = "this instance (host-a) has not heard its own heartbeat come back through the downstream for 12 s";
        var health = await new FederationHealthCheck(new Status(why)).CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("The downstream connection may be frozen: " + why, health.Description, StringComparison.Ordinal);
        Assert.Equal(why, health.Data["own_heartbeats_unheard"]);
    }

    [Fact]
    public async Task An_instance_that_hears_them_is_healthy()
    {
        var health = await new FederationHealthCheck(new Status(null)).CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Healthy, health.Status);
        Assert.False(health.Data.ContainsKey("own_heartbeats_unheard"));
    }

    private sealed class Status(string? unheard) : IFederationStatus
    {
        public string? ClusterName => "down";

        public bool IsDownstreamConnected => true;

        public string? OwnHeartbeatsUnheard => unheard;

        public IReadOnlyList<LinkStatus> GetLinks() => [];

        public LinkStatus? FindLink(string id) => null;

        public Task<bool> RestartLinkAsync(string id, CancellationToken cancellationToken) => Task.FromResult(false);
    }
}
