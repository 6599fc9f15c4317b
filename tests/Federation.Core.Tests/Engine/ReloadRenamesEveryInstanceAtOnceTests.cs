using System.Globalization;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two instances of one federation (<c>SpreadLinks</c>), one running the link and one waiting for it, renamed by one shared
/// configuration (<c>Federation:ClusterName</c>) that both reload within a second, on the same downstream broker and vhost,
/// while the upstream publishes steadily. Each instance keeps the old upstream queue for the other (event 2019), or never
/// held it; until 6 Dec 2026 nobody deleted it then, and it filled for good, holding what was published between the old
/// link's stop and the new link's bind. Now it is retired as a downstream that renames itself retires its old queues: the
/// instance that runs the new link forwards what it holds and deletes it, once no live instance has the old link and under
/// the old link's lease, so that nothing is lost and never two consumers share a queue.
/// </summary>
public sealed class ReloadRenamesEveryInstanceAtOnceTests : IAsyncLifetime
{
    private const string OldQueue = "federation: upstream -> D:fed0000";
    private const string NewQueue = "federation: upstream -> D2:fed0000";
    private const int RetiredQueueForwarded = 2033;

    // The fake clock moves one drain poll at a time while the old queue may be forwarded (see DownstreamSelfRenameOnSpreadInstancesTests).
    private static readonly TimeSpan Step = LinkSession.DrainPollInterval;

    private readonly InstanceCluster _cluster = new(links: 1);
    private readonly Dictionary<string, CapturingLoggerProvider> _logs = new(StringComparer.Ordinal) { ["host-a"] = new(), ["host-b"] = new() };
    private QueueProbe _downstream = null!;

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        _downstream = await _cluster.Bed.BindQueueAsync("D", InstanceCluster.ExchangeName(0), "key");
        await _cluster.StartAsync("host-a", loggerFactory: _logs["host-a"].AsFactory());
        await _cluster.StartAsync("host-b", loggerFactory: _logs["host-b"].AsFactory());
        await _cluster.AdvanceUntilAsync(
            () => _cluster.AllRunning() && _cluster.Bed.Broker("U").GetBindings("/", "upstream").Any(b => b.RoutingKey == "key"),
            TimeSpan.FromSeconds(30),
            _cluster.Describe);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        foreach (var logs in _logs.Values)
        {
            logs.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Both_instances_renamed_within_a_second_forward_the_old_queue_once_and_delete_it(bool holderFirst)
    {
        var (oldId, holder) = Assert.Single(_cluster.Runners());
        var waiter = _cluster.Live.Single(i => i != holder);
        await _cluster.AdvanceUntilAsync( // until each has heard the other claim the link (the waiter stands by for it)
            () => _cluster.EngineOf(holder).Ownership!.OthersRunning(oldId).Contains(waiter) && _cluster.EngineOf(waiter).Ownership!.OthersRunning(oldId).Contains(holder),
            TimeSpan.FromSeconds(30),
            _cluster.Describe);

        await using var publishing = new ContinuousPublisher(await _cluster.Bed.ConnectAsync("U"));
        await _cluster.AdvanceUntilAsync(() => _downstream.Count >= 20, TimeSpan.FromSeconds(30), () => $"{_downstream.Count} forwarded before the reloads; {_cluster.Describe()}");

        var (first, second) = holderFirst ? (holder, waiter) : (waiter, holder);
        await _cluster.EngineOf(first).UpdateAsync(Renamed(first), CancellationToken.None);
        _cluster.Time.Advance(TimeSpan.FromMilliseconds(500));
        await _cluster.EngineOf(second).UpdateAsync(Renamed(second), CancellationToken.None);

        // Bounded: the heartbeats of the instances still under the old name expire (3 s), the runner of the new link listens
        // as long again, then takes the old link's lease at its next poll (5 s at most) and forwards the queue.
        await _cluster.AdvanceUntilAsync(
            () => !_cluster.Bed.Broker("U").QueueExists("/", OldQueue) && _cluster.Runners() is { Count: 1 } runners && runners.Keys.Single() != oldId,
            TimeSpan.FromSeconds(30),
            Describe,
            Step);
        var publishedBeforeGone = publishing.Published;
        await _cluster.AdvanceUntilAsync(() => publishing.Published >= publishedBeforeGone + 50, TimeSpan.FromSeconds(30), Describe, Step);
        var last = await publishing.StopAsync();

        var expected = Enumerable.Range(0, last).Select(ContinuousPublisher.Body).ToList();
        await _cluster.AdvanceUntilAsync(() => Missing(expected).Count == 0, TimeSpan.FromSeconds(30), () => $"lost: {Missing(expected).Count} of {expected.Count} ({string.Join(", ", Missing(expected).Take(10))}...); {Describe()}", Step);

        // Twice only what was in the old queue: in flight as the old link stopped, or routed to both queues before the old
        // one was unbound. What was published once the old queue was gone was never in it.
        var twice = _downstream.Bodies.GroupBy(b => b, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.All(twice, body => Assert.True(Index(body) < publishedBeforeGone, $"{body}, published after the old queue was gone, arrived twice"));

        _cluster.Census.AssertOneAtATime();
        Assert.True(_cluster.Bed.Broker("U").QueueExists("/", NewQueue), "the link runs under the new cluster name");
        var forwarded = Assert.Single(_logs.Values.SelectMany(l => l.WithId(RetiredQueueForwarded)));
        Assert.Contains($"link {oldId},", forwarded.Message, StringComparison.Ordinal);
        Assert.Empty(_logs.Values.SelectMany(l => l.WithId(2020)));
        Assert.Empty(_logs.Values.SelectMany(l => l.WithId(1028)));
    }

    private List<string> Missing(List<string> expected) => [.. expected.Except(_downstream.Bodies)];

    private static int Index(string body) => int.Parse(body.AsSpan(1), CultureInfo.InvariantCulture);

    private static FederationOptions Renamed(string instance) =>
        new FederationOptions { InstanceName = instance, ClusterName = "D2", Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed", upstream: "u");

    private string Describe() =>
        $"{_cluster.Describe()}; old queue: {(_cluster.Bed.Broker("U").QueueExists("/", OldQueue) ? $"{_cluster.Bed.Broker("U").GetMessageCount("/", OldQueue)} message(s)" : "gone")}; "
        + $"{_downstream.Count} arrived; logs: " + string.Join(" | ", _logs.SelectMany(l => l.Value.WithId(2019).Concat(l.Value.WithId(2032)).Concat(l.Value.WithId(2036)).Concat(l.Value.WithId(RetiredQueueForwarded)).Select(e => $"{l.Key}: {e.Message}")));
}
