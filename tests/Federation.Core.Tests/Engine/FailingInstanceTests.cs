using Federation.Core.Links;
using Federation.Core.Links.Ownership;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// An instance joins whose links fail for a reason of its own (here its upstream names a broker nobody serves; in the
/// field a queue argument the upstream refuses, or a stream that does not exist). Placement hands it its share of the
/// links, which ran fine elsewhere. It used to keep their leases while it retried, for good, and the healthy instances
/// stood by for it: those links forwarded nothing until an operator stopped it. Now it lets the leases go after a few
/// failed attempts and stops claiming those links, so the others take them back and keep them.
/// </summary>
public sealed class FailingInstanceTests : IAsyncLifetime
{
    private const int Links = 12;
    private readonly InstanceCluster _cluster = new(Links);

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        await _cluster.StartAsync("host-a");
        await _cluster.StartAsync("host-b");
        await _cluster.AdvanceUntilAsync(_cluster.AllRunning, TimeSpan.FromSeconds(10), _cluster.Describe);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Links_a_newcomer_cannot_run_go_back_to_the_instances_that_can_and_stay_there()
    {
        await _cluster.StartAsync("host-c", upstreamBroker: "nobody-serves-this");

        // The test means something only if placement puts some links on the newcomer.
        var ids = _cluster.LinksOf("host-a").Select(l => l.Id).ToList();
        Assert.Contains(ids, id => LinkPlacement.Preference(id, ["host-a", "host-b", "host-c"])[0] == "host-c");

        // It settles, is handed its share, fails it three times, lets go: the others run every link again.
        bool RunByTheOthers() => _cluster.Runners().Count == Links && _cluster.Runners().Values.All(i => i != "host-c");
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf("host-c").Any(l => l.State == LinkState.Error),
            TimeSpan.FromSeconds(30), _cluster.Describe);
        await _cluster.AdvanceUntilAsync(RunByTheOthers, TimeSpan.FromSeconds(120), _cluster.Describe, step: TimeSpan.FromMilliseconds(500));

        // And they stay there: the newcomer asks again only as a fallback, and is refused while a holder runs the link.
        var stepped = TimeSpan.Zero;
        while (stepped < TimeSpan.FromSeconds(90))
        {
            _cluster.Time.Advance(TimeSpan.FromMilliseconds(500));
            stepped += TimeSpan.FromMilliseconds(500);
            await Task.Delay(Testbed.PollInterval);
            Assert.True(RunByTheOthers(), $"after {stepped.TotalSeconds} s (fake): {_cluster.Describe()}");
        }

        _cluster.Census.AssertOneAtATime();
        var standing = _cluster.LinksOf("host-c").Where(l => l.State == LinkState.Waiting).ToList();
        Assert.NotEmpty(standing);
    }
}
