namespace Federation.Core.Tests.Engine;

/// <summary>
/// Links a reload takes from one instance (the others take them over) go back to it once a later reload brings them back,
/// and the spread is even again. A black-box run of three FederationHost processes on RabbitMQ (7 Dec 2026) saw the spread
/// stay 1/3/1 for more than a minute when the instance that took a link back did so by its fallback ask: it still
/// remembered handing that link to the reloaded instance at start (<c>LinkPlacementGate.HandedTo</c>, never cleared once
/// the handover succeeded) and read it as a handover never taken, so it never handed the link back to that run. This test
/// covers the path where the take-back is an ordinary ask; <see cref="HandBackAfterFallbackTests"/> the fallback variant.
/// </summary>
public sealed class HandBackAfterReloadTests : IAsyncLifetime
{
    private const int Links = 6;

    private readonly InstanceCluster _cluster = new(Links);

    public Task InitializeAsync() => _cluster.StartSpreadAsync("host-a", "host-b", "host-c");

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_link_a_reload_gives_back_to_its_placed_instance_goes_back_there()
    {
        // The links host-b and host-c run were handed to them by an instance that ran them before they were placed there.
        // Each in turn drops its links in a reload (the others take them back), then a second reload brings them back.
        foreach (var instance in new[] { "host-b", "host-c" })
        {
            var runs = _cluster.Runners().Where(r => r.Value == instance).Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
            Assert.NotEmpty(runs);
            var dropped = _cluster.LinksOf(instance).Where(l => runs.Contains(l.Id)).Select(l => l.Exchange).ToHashSet(StringComparer.Ordinal);
            var kept = Enumerable.Range(0, Links).Select(InstanceCluster.ExchangeName).Where(e => !dropped.Contains(e));
            await _cluster.ReloadAsync(instance, "^(" + string.Join("|", kept) + ")$");
            await _cluster.AdvanceUntilAsync(() => _cluster.AllRunning() && !_cluster.Runners().ContainsValue(instance), TimeSpan.FromSeconds(60), _cluster.Describe);

            await _cluster.ReloadAsync(instance, "^fed");
            await _cluster.AdvanceUntilAsync(() => _cluster.Spread(slack: 0), TimeSpan.FromSeconds(60), () => $"after {instance}'s links came back: " + _cluster.Describe());
        }

        _cluster.Census.AssertOneAtATime();
    }
}
