using Federation.Core.Links;
using Federation.Core.Links.Ownership;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Three engines with the same configuration and 30 links: the links spread evenly, a dead instance's links start on the
/// survivors within 10 s, a restarted one gets its share back without other links moving, and a clean stop hands over at once.
/// </summary>
public sealed class LinkSpreadTests : IAsyncLifetime
{
    private const int Links = 30;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);
    private static readonly string[] Instances = ["host-a", "host-b", "host-c"];

    private readonly InstanceCluster _cluster = new(Links);

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        foreach (var instance in Instances)
        {
            await _cluster.StartAsync(instance);
        }

        await _cluster.AdvanceUntilAsync(() => _cluster.Spread(slack: 0), Settle, _cluster.Describe);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public void Thirty_links_over_three_instances_run_ten_on_each_and_once_each()
    {
        Assert.All(_cluster.RunningPerInstance().Values, running => Assert.InRange(running, 8, 12));
        Assert.Equal(Links, _cluster.Runners().Count);
        _cluster.Census.AssertOneAtATime();

        // Status says who runs each link, on every instance, the waiting ones included.
        var runners = _cluster.Runners();
        foreach (var instance in Instances)
        {
            // The presence exchange ("federation.presence.D") matches the policy "^fed" but is never federated.
            Assert.Equal(Links, _cluster.LinksOf(instance).Count);
            Assert.All(_cluster.LinksOf(instance), link =>
            {
                Assert.Equal(instance, link.Instance);
                Assert.Equal(runners[link.Id], link.RunningOn);
                Assert.Equal(link.State == LinkState.Running ? LinkState.Running : LinkState.Waiting, link.State);
            });
        }
    }

    [Fact]
    public async Task A_dead_instances_links_start_on_the_survivors_within_ten_seconds_and_come_back_when_it_returns()
    {
        var before = _cluster.Runners();
        await _cluster.CrashAsync("host-c");

        var took = await _cluster.AdvanceUntilAsync(_cluster.AllRunning, TimeSpan.FromSeconds(10), _cluster.Describe);
        Assert.InRange(took, TimeSpan.Zero, TimeSpan.FromSeconds(10));

        // Then exactly where placement puts them over the survivors: host-c's links, and the few that the survivors'
        // larger share lets go to their first choice; no other link moves.
        var expected = LinkPlacement.Assign(before.Keys, ["host-a", "host-b"]);
        await _cluster.AdvanceUntilAsync(() => SameRunners(expected), Settle, _cluster.Describe);
        var movedBesides = before.Count(p => p.Value != "host-c" && expected[p.Key] != p.Value);
        Assert.InRange(movedBesides, 0, 3);

        await _cluster.StartAsync("host-c");
        await _cluster.AdvanceUntilAsync(() => SameRunners(before), Settle, _cluster.Describe);

        // Back where they were: only the links that moved away moved back.
        Assert.True(_cluster.Spread(slack: 0), _cluster.Describe());
        _cluster.Census.AssertOneAtATime();
    }

    [Fact]
    public async Task A_clean_stop_hands_its_links_over_at_once_and_keeps_their_upstream_queues()
    {
        var before = _cluster.Runners();
        var queuesBefore = UpstreamQueues();
        await _cluster.StopAsync("host-b");

        // "Leaving" on the presence exchange: no waiting out the live time, the next poll takes them.
        await _cluster.AdvanceUntilAsync(_cluster.AllRunning, TimeSpan.FromSeconds(2), _cluster.Describe, pauses: 50);
        Assert.Equal(queuesBefore, UpstreamQueues());
        await _cluster.AdvanceUntilAsync(() => SameRunners(LinkPlacement.Assign(before.Keys, ["host-a", "host-c"])), Settle, _cluster.Describe);
        _cluster.Census.AssertOneAtATime();
    }

    [Fact]
    public async Task Instances_whose_other_links_run_elsewhere_are_healthy_and_say_so()
    {
        foreach (var instance in Instances)
        {
            var check = new Federation.Core.Hosting.FederationHealthCheck(_cluster.EngineOf(instance));
            var result = await check.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
            Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, result.Status);
            Assert.Contains("20 run by other instances", result.Description, StringComparison.Ordinal);
        }
    }

    private bool SameRunners(IReadOnlyDictionary<string, string> expected) =>
        _cluster.Runners() is var runners && runners.Count == expected.Count && expected.All(p => runners.GetValueOrDefault(p.Key) == p.Value);

    private List<string> UpstreamQueues() =>
        [.. _cluster.Bed.Broker("U").GetQueueNames("/").Order(StringComparer.Ordinal)];
}
