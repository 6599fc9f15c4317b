using System.Globalization;
using Federation.Core.Links;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two instances of one federation (<c>SpreadLinks</c>) whose downstream renames itself without a reload (event 2027):
/// each instance sees the new name only once it connects again. An old upstream queue is retired by exactly one instance,
/// the one that runs the link under the new name, and only once no instance still under the old name has the old link
/// (by its heartbeats) and while it holds the old link's lease: never two consumers on a queue at once, nothing lost, and
/// every old queue gone in the end. Until 6 Dec 2026 the old queues stayed on the upstream, filling for good.
/// </summary>
public sealed class DownstreamSelfRenameOnSpreadInstancesTests : IAsyncLifetime
{
    private const int Links = 4;

    // The fake clock moves one drain poll at a time while old queues may be forwarded: the polls only pace a forwarding (its
    // consumer closes before the count that decides the queue is empty), but a larger step would run several at once.
    private static readonly TimeSpan Step = LinkSession.DrainPollInterval;
    private const int RetiredQueueForwarded = 2033;
    private const int RenamedQueueWaiting = 2036;

    private readonly InstanceCluster _cluster = new(links: Links);
    private readonly Dictionary<string, CapturingLoggerProvider> _logs = new(StringComparer.Ordinal) { ["host-a"] = new(), ["host-b"] = new() };
    private readonly List<QueueProbe> _probes = [];
    private readonly List<string> _published = [];
    private Dictionary<string, string> _oldIds = [];

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        for (var i = 0; i < Links; i++)
        {
            _probes.Add(await _cluster.Bed.BindQueueAsync("D", InstanceCluster.ExchangeName(i), "key"));
        }

        await _cluster.StartAsync("host-a", loggerFactory: _logs["host-a"].AsFactory());
        await _cluster.StartAsync("host-b", loggerFactory: _logs["host-b"].AsFactory());
        await _cluster.AdvanceUntilAsync(() => _cluster.Placed() && _cluster.RunningPerInstance().Values.All(n => n > 0), TimeSpan.FromSeconds(60), _cluster.Describe);
        _oldIds = _cluster.Runners();

        // Every link has mirrored its downstream binding upstream: what is published from now on reaches every queue.
        await _cluster.AdvanceUntilAsync(() => _cluster.Bed.Broker("U").GetBindings("/", "upstream").Count(b => b.RoutingKey == "key") >= Links, TimeSpan.FromSeconds(30), _cluster.Describe);
        await PublishAsync("before");
        await _cluster.AdvanceUntilAsync(AllArrived, TimeSpan.FromSeconds(30), Describe);
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
    public async Task Renamed_on_both_instances_at_once_each_old_queue_is_forwarded_once_and_deleted()
    {
        _cluster.Bed.Broker("D").ClusterName = "D2";
        _cluster.LoseDownstream("host-a");
        _cluster.LoseDownstream("host-b");
        await PublishAsync("around");

        await _cluster.AdvanceUntilAsync(() => AllRenamed() && NoOldQueues() && AllArrived(), TimeSpan.FromSeconds(90), Describe, Step);
        await PublishAsync("after");
        await _cluster.AdvanceUntilAsync(AllArrived, TimeSpan.FromSeconds(30), Describe, Step);
        AssertEachOldQueueForwardedOnce();
        AssertOneConsumerAtATimeOnEveryQueue();
    }

    [Fact]
    public async Task An_instance_back_after_the_other_runs_no_old_link_from_a_new_queue()
    {
        // host-a connects again at once, sees the new name and runs its share of the new links; host-b is cut off from the
        // downstream for a while, so that its old links retry and wait for a session. The session it gets is the renamed
        // downstream's, published before the old links are stopped: until 6 Dec 2026 they ran from the new links' queues
        // (queue names come from the session) under their old leases, beside host-a's new links.
        _cluster.Bed.Broker("D").ClusterName = "D2";
        _cluster.CutOff("host-b", "D");
        _cluster.LoseDownstream("host-a");
        _cluster.LoseDownstream("host-b");
        await PublishAsync("around");
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf("host-a").Count(l => l.State == LinkState.Running && !_oldIds.ContainsKey(l.Id)) == Links,
            TimeSpan.FromSeconds(60),
            Describe,
            Step);

        _cluster.CutOff("host-b", null);
        await _cluster.AdvanceUntilAsync(() => AllRenamed() && NoOldQueues() && AllArrived(), TimeSpan.FromSeconds(90), Describe, Step);
        await PublishAsync("after");
        await _cluster.AdvanceUntilAsync(() => _cluster.Placed() && AllArrived(), TimeSpan.FromSeconds(60), Describe, Step);
        var oldLinksRunning = _logs["host-b"].WithId(1001).Where(e => _oldIds.Keys.Any(id => e.Message.StartsWith($"Link {id} ", StringComparison.Ordinal)) && e.Message.Contains("D2:", StringComparison.Ordinal));
        Assert.Empty(oldLinksRunning);
        AssertEachOldQueueForwardedOnce();
        AssertOneConsumerAtATimeOnEveryQueue();
    }

    [Fact]
    public async Task An_old_queue_waits_while_an_instance_still_under_the_old_name_has_the_old_link()
    {
        // Only host-a connects again, and sees the new name; host-b goes on under the old one and takes the old links over.
        _cluster.Bed.Broker("D").ClusterName = "D2";
        _cluster.LoseDownstream("host-a");
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf("host-a").All(l => !_oldIds.ContainsKey(l.Id)) && _cluster.LinksOf("host-b").Count(l => l.State == LinkState.Running && _oldIds.ContainsKey(l.Id)) == Links,
            TimeSpan.FromSeconds(90),
            Describe);
        await PublishAsync("mixed");

        // host-b still consumes the old queues: host-a leaves them where they are, however long that lasts. The clock
        // waits for the heartbeats: under load host-b's fell behind a clock moved at a fixed pace, and host-a, taking
        // host-b for gone, rightly forwarded an old queue. A host-a that forwards while it hears host-b still fails here.
        await _cluster.AdvanceWhileHeardAsync(() => _logs["host-a"].WithId(RenamedQueueWaiting).Count >= Links, TimeSpan.FromSeconds(30), Describe, Step);
        var waited = _cluster.Time.GetUtcNow();
        await _cluster.AdvanceWhileHeardAsync(() => _cluster.Time.GetUtcNow() - waited >= TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30), Describe, Step);
        Assert.Equal(Links, OldQueues().Count);
        Assert.Empty(_logs["host-a"].WithId(RetiredQueueForwarded));

        // Then host-b connects again too: the old links are gone everywhere, and each old queue goes once.
        _cluster.LoseDownstream("host-b");
        await PublishAsync("renamed");
        await _cluster.AdvanceUntilAsync(() => AllRenamed() && NoOldQueues() && AllArrived(), TimeSpan.FromSeconds(90), Describe, Step);
        AssertEachOldQueueForwardedOnce();
        AssertOneConsumerAtATimeOnEveryQueue();
    }

    private void AssertEachOldQueueForwardedOnce()
    {
        var forwarded = _logs.Values.SelectMany(l => l.WithId(RetiredQueueForwarded)).Select(e => e.Message).ToList();
        foreach (var oldId in _oldIds.Keys)
        {
            Assert.Single(forwarded, m => m.Contains($"link {oldId},", StringComparison.Ordinal));
        }

        Assert.Equal(Links, forwarded.Count);
        Assert.Empty(_logs.Values.SelectMany(l => l.WithId(2020)));
        Assert.Empty(_logs.Values.SelectMany(l => l.WithId(1028)));
    }

    private async Task PublishAsync(string prefix)
    {
        var upstream = await _cluster.Bed.ConnectAsync("U");
        for (var i = 0; i < 5; i++)
        {
            var body = $"{prefix}-{i.ToString(CultureInfo.InvariantCulture)}";
            await Testbed.PublishAsync(upstream, "upstream", "key", body);
            _published.Add(body);
        }
    }

    private bool AllArrived() => _probes.All(p => !_published.Except(p.Bodies).Any());

    private bool AllRenamed() =>
        _cluster.Runners() is { Count: Links } runners && runners.Keys.All(id => !_oldIds.ContainsKey(id));

    // Every queue, the old ones and the new links': one instance at a time runs a link from it or forwards it (under the
    // link's lease). Until 6 Dec 2026 a link under the old name whose retry took the renamed downstream's session ran from
    // the new name's queue beside the instance that ran the new link, in about one run of six here.
    private void AssertOneConsumerAtATimeOnEveryQueue() =>
        _cluster.Census.AssertOneAtATime();

    private static IEnumerable<string> OldQueueNames =>
        Enumerable.Range(0, Links).Select(i => $"federation: upstream -> D:{InstanceCluster.ExchangeName(i)}");

    private List<string> OldQueues() =>
        [.. OldQueueNames.Where(q => _cluster.Bed.Broker("U").QueueExists("/", q))];

    private bool NoOldQueues() => OldQueues().Count == 0;

    private string Describe() =>
        $"{_cluster.Describe()}; old queues left: [{string.Join(", ", OldQueues())}]; missing: "
        + string.Join(" ", _probes.Select(p => $"{p.Queue}=[{string.Join(",", _published.Except(p.Bodies))}]"))
        + "; logs: " + string.Join(" | ", _logs.SelectMany(l => l.Value.WithId(RetiredQueueForwarded).Concat(l.Value.WithId(RenamedQueueWaiting)).Concat(l.Value.WithId(2035)).Select(e => $"{l.Key}: {e.Message}")));
}
