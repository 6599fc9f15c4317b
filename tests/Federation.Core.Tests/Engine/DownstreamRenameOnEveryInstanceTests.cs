using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two instances of one federation renamed one after the other (a rename rolled out host by host). The first keeps the
/// old queue for the second (event 2019), which takes the old link over, and runs the new link. When the second is
/// renamed too, its new link runs on the first: that instance's queue has received since its rename what the old queue
/// did, so the second deletes the old queue (events 2020 and 1028) once it knows the new link runs there, rather than
/// forward it (which would deliver it twice) or keep it for good (no link of its own would ever bind a queue).
/// </summary>
public sealed class DownstreamRenameOnEveryInstanceTests : IAsyncLifetime
{
    private const string OldQueue = "federation: upstream -> D:fed0000";

    private readonly InstanceCluster _cluster = new(links: 1);
    private readonly Dictionary<string, CapturingLoggerProvider> _logs = new(StringComparer.Ordinal) { ["host-a"] = new(), ["host-b"] = new() };

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        await _cluster.StartAsync("host-a", loggerFactory: _logs["host-a"].AsFactory());
        await _cluster.StartAsync("host-b", loggerFactory: _logs["host-b"].AsFactory());
        await _cluster.AdvanceUntilAsync(_cluster.AllRunning, TimeSpan.FromSeconds(10), _cluster.Describe);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        foreach (var logs in _logs.Values)
        {
            logs.Dispose();
        }
    }

    [Fact]
    public async Task The_last_instance_renamed_deletes_the_old_queue_once_the_new_link_runs_on_another_instance()
    {
        var (oldId, runner) = Assert.Single(_cluster.Runners());
        var other = _cluster.Live.Single(i => i != runner);
        await _cluster.AdvanceUntilAsync(
            () => _cluster.EngineOf(runner).Ownership!.OthersRunning(oldId).Contains(other),
            TimeSpan.FromSeconds(40),
            _cluster.Describe);

        // The runner first: the old queue is kept for the other instance, which takes the old link over.
        await _cluster.EngineOf(runner).UpdateAsync(Renamed(runner), CancellationToken.None);
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf(other) is [{ State: LinkState.Running } link] && link.Id == oldId
                && _cluster.LinksOf(runner) is [{ State: LinkState.Running } renamed] && renamed.Id != oldId
                && _cluster.EngineOf(other).Ownership!.OthersRunning(oldId).Count == 0,
            TimeSpan.FromSeconds(40),
            _cluster.Describe);
        Assert.True(_cluster.Bed.Broker("U").QueueExists("/", OldQueue));

        // Then the other: its new link runs on the runner already, whose queue got everything the old one did since.
        await _cluster.EngineOf(other).UpdateAsync(Renamed(other), CancellationToken.None);
        // Its warning comes once the deletion has returned, which the broker shows a moment before: both are waited for.
        var logs = _logs[other];
        await _cluster.AdvanceUntilAsync(() => !_cluster.Bed.Broker("U").QueueExists("/", OldQueue) && logs.WithId(1028).Count > 0, TimeSpan.FromSeconds(40), _cluster.Describe);
        Assert.Contains("federates another downstream", Assert.Single(logs.WithId(2020)).Message, StringComparison.Ordinal);
        Assert.Single(logs.WithId(1028));
        Assert.Empty(logs.WithId(2033));
    }

    private static FederationOptions Renamed(string instance) =>
        new FederationOptions { InstanceName = instance, ClusterName = "D2", Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed", upstream: "u");
}
