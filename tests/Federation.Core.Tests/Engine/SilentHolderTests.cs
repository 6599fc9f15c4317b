using Federation.Core.Links;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A holder that falls silent without losing its connection (a paused process: SIGSTOP, a stalled VM) keeps its leases
/// until the broker gives its connection up, on AMQP after two to three missed heartbeats (60-90 s by default). Its links
/// run nowhere meanwhile: the instance that would take them over shows them in error, naming the silent holder, rather
/// than waiting (which every instance showed before, healthy, for the whole pause). It takes them over once the leases go.
/// </summary>
public sealed class SilentHolderTests : IAsyncLifetime
{
    private const int Links = 4;

    private readonly InstanceCluster _cluster = new(Links);

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        await _cluster.StartAsync("host-a");
        await _cluster.StartAsync("host-b");
        await _cluster.AdvanceUntilAsync(() => _cluster.Spread(slack: 0), TimeSpan.FromSeconds(30), _cluster.Describe);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task The_links_of_a_silent_holder_show_in_error_elsewhere_until_its_leases_go()
    {
        var heldByA = _cluster.Runners().Where(r => r.Value == "host-a").Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(heldByA);

        _cluster.Silence("host-a");
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf("host-b").Where(l => heldByA.Contains(l.Id)).All(l => l.State == LinkState.Error),
            TimeSpan.FromSeconds(30),
            _cluster.Describe);

        Assert.All(_cluster.LinksOf("host-b").Where(l => heldByA.Contains(l.Id)), link =>
        {
            Assert.Contains("held by instance 'host-a', which has not been heard from since", link.Error, StringComparison.Ordinal);
            Assert.Null(link.Waiting);
        });

        // Its own links are not affected, and the silent holder's still run there: nothing runs twice.
        Assert.All(_cluster.LinksOf("host-b").Where(l => !heldByA.Contains(l.Id)), link => Assert.Equal(LinkState.Running, link.State));
        _cluster.Census.AssertOneAtATime();

        // The broker gives the holder up (here: its process dies): host-b takes the links over.
        await _cluster.CrashAsync("host-a");
        await _cluster.AdvanceUntilAsync(() => _cluster.AllRunning(), TimeSpan.FromSeconds(30), _cluster.Describe);
        Assert.All(_cluster.LinksOf("host-b"), link => Assert.Equal(LinkState.Running, link.State));
    }

    [Fact]
    public async Task A_holder_that_leaves_cleanly_is_not_shown_silent()
    {
        await _cluster.StopAsync("host-a");
        await _cluster.AdvanceUntilAsync(() => _cluster.AllRunning(), TimeSpan.FromSeconds(30), _cluster.Describe);
        Assert.DoesNotContain(_cluster.LinksOf("host-b"), link => link.Error is not null);
    }
}
