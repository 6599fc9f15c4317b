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

    [Fact]
    public async Task Heartbeats_held_by_a_downstream_that_blocks_publishing_are_not_read_as_a_frozen_connection()
    {
        // RabbitMQ's memory or disk alarm holds every publish, this instance's heartbeats included: the block is the cause.
        const string why = "this instance (host-a) has not heard its own heartbeat come back through the downstream for 10 s";
        var health = await new FederationHealthCheck(new Status(why, blocked: "low on memory")).CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("blocks publishing (low on memory)", health.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("frozen", health.Description, StringComparison.Ordinal);
        Assert.False(health.Data.ContainsKey("own_heartbeats_unheard"));
        Assert.Equal("low on memory", health.Data["downstream_blocked"]);
    }

    private sealed class Status(string? unheard, string? blocked = null) : IFederationStatus
    {
        public string? ClusterName => "down";

        public string? DownstreamBlocked => blocked;

        public bool IsDownstreamConnected => true;

        public string? OwnHeartbeatsUnheard => unheard;

        public IReadOnlyList<LinkStatus> GetLinks() => [];

        public LinkStatus? FindLink(string id) => null;

        public Task<bool> RestartLinkAsync(string id, CancellationToken cancellationToken) => Task.FromResult(false);
    }
}
