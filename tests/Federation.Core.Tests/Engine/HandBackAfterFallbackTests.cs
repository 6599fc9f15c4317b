namespace Federation.Core.Tests.Engine;

/// <summary>
/// A link a reload takes from one instance goes back to it when a later reload brings it back, also when the instance that
/// took it over did so by its fallback ask. A black-box run of three FederationHost processes on RabbitMQ (7 Dec 2026) saw
/// the spread stay 1/3/1 for more than a minute after such a reload: the instance that had handed the link to the reloaded
/// one at start asked as a fallback moments after the reload let go of the lease (the reloaded instance's last heartbeat,
/// up to one interval old, still said it held the link), took it, still remembered handing it over
/// (<c>LinkPlacementGate.HandedTo</c>, never cleared once the handover was taken), read that as a handover never taken, and
/// never handed the link to that run again. Here the reloaded instance's heartbeats lag its release for as long as the
/// fallback takes (<see cref="InstanceCluster.LagHeartbeats"/>), so the take-back is the fallback ask every time.
/// </summary>
public sealed class HandBackAfterFallbackTests : IAsyncDisposable
{
    private const int Links = 4;

    private readonly InstanceCluster _cluster = new(Links);

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_link_the_fallback_ask_took_back_after_a_reload_goes_back_when_a_later_reload_returns_it()
    {
        // host-a runs every link before host-b starts, so that host-a hands host-b its share.
        await _cluster.DeclareExchangesAsync();
        await _cluster.StartAsync("host-a");
        await _cluster.AdvanceUntilAsync(() => _cluster.AllRunning(), TimeSpan.FromSeconds(30), _cluster.Describe);
        await _cluster.StartAsync("host-b");
        await _cluster.AdvanceUntilAsync(() => _cluster.Spread(slack: 0), TimeSpan.FromSeconds(60), _cluster.Describe);
        var handed = _cluster.Runners().Where(r => r.Value == "host-b").Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(handed);

        // Its heartbeats say it holds them; from now on they keep saying so, whatever it does.
        await _cluster.AdvanceUntilAsync(() => _cluster.HeldAsLastSaid("host-b") is { } held && handed.IsSubsetOf(held), TimeSpan.FromSeconds(10), _cluster.Describe);
        _cluster.LagHeartbeats("host-b");

        // A reload drops them on host-b, which lets go of their leases; host-a hears that host-b still holds them, and takes
        // them by its fallback ask.
        var dropped = _cluster.LinksOf("host-b").Where(l => handed.Contains(l.Id)).Select(l => l.Exchange).ToHashSet(StringComparer.Ordinal);
        var kept = Enumerable.Range(0, Links).Select(InstanceCluster.ExchangeName).Where(e => !dropped.Contains(e));
        await _cluster.ReloadAsync("host-b", "^(" + string.Join("|", kept) + ")$");
        await _cluster.AdvanceUntilAsync(() => _cluster.AllRunning() && handed.All(l => _cluster.Runners().GetValueOrDefault(l) == "host-a"), TimeSpan.FromSeconds(60), _cluster.Describe);
        _cluster.CatchUpHeartbeats("host-b");

        // A second reload brings them back on host-b: host-a hands them back.
        await _cluster.ReloadAsync("host-b", "^fed");
        await _cluster.AdvanceUntilAsync(() => _cluster.Spread(slack: 0) && _cluster.Placed(), TimeSpan.FromSeconds(60), () => "after host-b's links came back: " + _cluster.Describe());
        _cluster.Census.AssertOneAtATime();
    }
}
