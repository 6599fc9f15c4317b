using Federation.Core.Hosting;
using Federation.Core.Links;
using Federation.Core.Links.Ownership;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A link that fails on the only instance that has it, or on every instance that has it, runs nowhere. After three
/// failures a link used to let its lease go whenever any other instance was live (event 1104), and then showed
/// <c>waiting</c>, "running on" an instance that did not have it or had let it go too: <c>/health</c> said Healthy and
/// <c>--only-down</c> listed nothing. A link now lets go only for an instance whose heartbeats claim it, and stands by only
/// while one does; otherwise it stays in error where it fails, and degrades the health of that instance.
/// </summary>
public sealed class LinkRunningNowhereTests
{
    private const int Links = 12;

    [Fact]
    public async Task A_link_no_other_instance_has_stays_in_error_where_it_fails()
    {
        await using var cluster = new InstanceCluster(Links);
        await cluster.DeclareExchangesAsync();
        await cluster.StartAsync("host-r", "^fed000[0-5]$");
        await cluster.StartAsync("host-w", "^fed000[6-9]$|^fed001", upstreamBroker: "nobody-serves-this");
        bool Settled() =>
            cluster.LinksOf("host-r").Count(l => l.State == LinkState.Running) == 6
            && cluster.LinksOf("host-w") is { Count: 6 } failing && failing.All(l => l.State == LinkState.Error);
        await cluster.AdvanceUntilAsync(Settled, TimeSpan.FromSeconds(30), cluster.Describe);

        // The test means something only if placement puts some of host-w's links on host-r, which does not have them.
        var ids = cluster.LinksOf("host-w").Select(l => l.Id).ToList();
        Assert.Contains(ids, id => LinkPlacement.Preference(id, ["host-r", "host-w"])[0] == "host-r");

        // Well past three failures (event 1104) and two fallbacks (30 s each): the links stay down where they fail.
        var check = new FederationHealthCheck(cluster.EngineOf("host-w"));
        var stepped = TimeSpan.Zero;
        while (stepped < TimeSpan.FromSeconds(90))
        {
            cluster.Time.Advance(TimeSpan.FromMilliseconds(500));
            stepped += TimeSpan.FromMilliseconds(500);
            await Task.Delay(Testbed.PollInterval);
            var links = cluster.LinksOf("host-w");
            Assert.True(
                links.All(l => l.State == LinkState.Error && l.Error is not null && l.RunningOn != "host-r"),
                $"after {stepped.TotalSeconds} s (fake): {string.Join(" ", links.Select(Show))}");
            var health = await check.CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Degraded, health.Status);
        }

        Assert.Equal(6, cluster.LinksOf("host-r").Count(l => l.State == LinkState.Running));
    }

    [Fact]
    public async Task A_link_that_fails_on_every_instance_stays_in_error_on_the_one_that_holds_it_and_shows_down_on_the_others()
    {
        const int links = 4;
        await using var cluster = new InstanceCluster(links);
        await cluster.DeclareExchangesAsync();
        await cluster.StartAsync("host-a", upstreamBroker: "nobody-serves-this");
        await cluster.StartAsync("host-b", upstreamBroker: "nobody-serves-this");
        string[] instances = ["host-a", "host-b"];

        // Each link: in error on the instance that holds it, and on the other too, which waits for that one: its heartbeats
        // say it holds the link and fails to run it, so the link runs nowhere (it used to show "waiting" there, as if it ran).
        bool DownWhereHeld()
        {
            var all = instances.SelectMany(cluster.LinksOf).ToList();
            return all.Count == links * 2 && all.GroupBy(l => l.Id).All(link =>
                link.Count(l => l.State == LinkState.Error && l.RunningOn == l.Instance) == 1
                && link.Count(l => l.State == LinkState.Error && l.RunningOn != l.Instance
                    && link.Any(e => e.State == LinkState.Error && e.Instance == l.RunningOn && e.RunningOn == e.Instance)
                    && l.Error!.Contains($"it fails on instance '{l.RunningOn}'", StringComparison.Ordinal)) == 1);
        }

        string Describe() => string.Join(" ", instances.SelectMany(cluster.LinksOf).OrderBy(l => l.Id, StringComparer.Ordinal).Select(Show));

        // The first holder of each link fails three times and lets go for the other, which has it; that one fails too. Both
        // have then failed more than three times (the backoff grows from 5 s).
        await cluster.AdvanceUntilAsync(
            () => instances.SelectMany(cluster.LinksOf).Count(l => l.State == LinkState.Error) >= links,
            TimeSpan.FromSeconds(30), Describe);
        for (var stepped = TimeSpan.Zero; stepped < TimeSpan.FromSeconds(60); stepped += TimeSpan.FromMilliseconds(500))
        {
            cluster.Time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.Delay(Testbed.PollInterval);
        }

        await cluster.AdvanceUntilAsync(DownWhereHeld, TimeSpan.FromSeconds(60), Describe);

        // It stays there, down, rather than let go in turn and leave both instances waiting for each other.
        var held = TimeSpan.Zero;
        while (held < TimeSpan.FromSeconds(90))
        {
            cluster.Time.Advance(TimeSpan.FromMilliseconds(500));
            held += TimeSpan.FromMilliseconds(500);
            await Task.Delay(Testbed.PollInterval);
            Assert.True(DownWhereHeld(), $"after {held.TotalSeconds} s (fake): {Describe()}");
        }

        foreach (var instance in instances)
        {
            var health = await new FederationHealthCheck(cluster.EngineOf(instance)).CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Degraded, health.Status);
        }
    }

    private static string Show(LinkStatus l) => $"[{l.Id} on {l.Instance}: {l.State} running_on={l.RunningOn} {l.Error}{l.Waiting}]";
}
