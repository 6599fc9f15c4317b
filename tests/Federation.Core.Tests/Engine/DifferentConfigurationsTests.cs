using Federation.Core.Links;
using Federation.Core.Links.Ownership;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two engines with different configurations on one downstream (each federates its own exchanges) hear each other on the
/// presence exchange. Placement alone would put some of one engine's links on the other, which does not run them: a
/// handover then stopped such a link until the fallback took it back (15 s by default). A holder now hands a link over
/// only to an instance that says it waits for it.
/// </summary>
public sealed class DifferentConfigurationsTests : IAsyncLifetime
{
    private const int Links = 12;
    private readonly InstanceCluster _cluster = new(Links);

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        await _cluster.StartAsync("host-a", "^fed000[0-5]$");
        await _cluster.StartAsync("host-b", "^fed000[6-9]$|^fed001");
        await _cluster.AdvanceUntilAsync(_cluster.AllRunning, TimeSpan.FromSeconds(10), _cluster.Describe);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Links_stay_on_the_only_instance_that_runs_them_once_both_have_settled()
    {
        var owners = _cluster.Runners();
        Assert.Equal(6, owners.Count(o => o.Value == "host-a"));
        Assert.Equal(6, owners.Count(o => o.Value == "host-b"));

        // The test means something only if placement puts some links on the instance that does not run them.
        var misplaced = owners.Where(o => LinkPlacement.Preference(o.Key, ["host-a", "host-b"])[0] != o.Value).Select(o => o.Key).ToList();
        Assert.NotEmpty(misplaced);

        // Well past settling (3 s), a heartbeat's handovers and a fallback (15 s): no link ever stops.
        var stepped = TimeSpan.Zero;
        while (stepped < TimeSpan.FromSeconds(40))
        {
            _cluster.Time.Advance(TimeSpan.FromMilliseconds(250));
            stepped += TimeSpan.FromMilliseconds(250);
            await Task.Delay(Testbed.PollInterval);
            var runners = _cluster.Runners();
            Assert.True(owners.All(o => runners.GetValueOrDefault(o.Key) == o.Value), $"after {stepped.TotalSeconds} s (fake): {_cluster.Describe()}");
        }

        _cluster.Census.AssertOneAtATime();
    }

    [Fact]
    public async Task A_link_that_appears_next_to_a_settled_instance_with_another_configuration_runs_at_once()
    {
        await using var cluster = new InstanceCluster(Links);
        await cluster.DeclareExchangesAsync();
        await cluster.StartAsync("host-a", "^fed000[0-5]$|^new");
        await cluster.StartAsync("host-b", "^fed000[6-9]$|^fed001");
        await cluster.AdvanceUntilAsync(cluster.AllRunning, TimeSpan.FromSeconds(10), cluster.Describe);
        // Both have heard each other for a while (longer than they take to settle).
        bool HearEachOther() =>
            cluster.EngineOf("host-a").Ownership!.LiveInstances.Contains("host-b") && cluster.EngineOf("host-b").Ownership!.LiveInstances.Contains("host-a");
        await cluster.AdvanceUntilAsync(HearEachOther, TimeSpan.FromSeconds(10), cluster.Describe);
        cluster.Time.Advance(TimeSpan.FromSeconds(5));
        await cluster.AdvanceUntilAsync(HearEachOther, TimeSpan.FromSeconds(10), cluster.Describe);

        // New exchanges for host-a only: placement puts some of their links on host-b, which neither holds nor waits for
        // them, so host-a must not stand by for it (the fallback would take 15 s).
        var app = await cluster.Bed.ConnectAsync("D");
        string[] added = ["new0", "new1", "new2", "new3", "new4", "new5"];
        foreach (var exchange in added)
        {
            await Testbed.DeclareExchangeAsync(app, exchange);
        }

        bool AddedRunOnA() => cluster.LinksOf("host-a").Count(l => added.Any(a => l.Exchange == a) && l.State == LinkState.Running) == added.Length;
        var took = await cluster.AdvanceUntilAsync(AddedRunOnA, TimeSpan.FromSeconds(3), cluster.Describe);
        Assert.InRange(took, TimeSpan.Zero, TimeSpan.FromSeconds(3));
        var ids = cluster.LinksOf("host-a").Where(l => added.Contains(l.Exchange)).Select(l => l.Id).ToList();
        Assert.Contains(ids, id => LinkPlacement.Preference(id, ["host-a", "host-b"])[0] == "host-b");
    }
}
