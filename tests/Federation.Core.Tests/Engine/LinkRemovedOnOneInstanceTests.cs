using Federation.Core.Links;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two instances run one federation. The one that runs a link reloads a configuration that no longer has it (its policy
/// narrowed), while the other still has the link and waits for it: the upstream queue stays, as at an engine stop that
/// hands links over, so what it buffers until the other instance takes the link over reaches the downstream. Before, the
/// stop deleted the queue and the internal exchange, and every message published upstream meanwhile was lost.
/// </summary>
public sealed class LinkRemovedOnOneInstanceTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed0000";

    private readonly InstanceCluster _cluster = new(links: 1);

    public async Task InitializeAsync()
    {
        await _cluster.DeclareExchangesAsync();
        await _cluster.StartAsync("host-a");
        await _cluster.StartAsync("host-b");
        await _cluster.AdvanceUntilAsync(_cluster.AllRunning, TimeSpan.FromSeconds(10), _cluster.Describe);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_link_one_instance_drops_keeps_its_upstream_queue_for_the_instance_that_waits_for_it()
    {
        var downstream = await _cluster.Bed.BindQueueAsync("D", InstanceCluster.ExchangeName(0), "key");
        await _cluster.Bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        // The other instance has asked for the lease and was refused, so its heartbeats say it waits for the link.
        var (id, runner) = Assert.Single(_cluster.Runners());
        var other = _cluster.Live.Single(i => i != runner);
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf(other) is [{ State: LinkState.Waiting, LeaseHolder: not null }],
            TimeSpan.FromSeconds(40),
            _cluster.Describe);
        await _cluster.AdvanceUntilAsync( // until a heartbeat has told the runner so
            () => _cluster.EngineOf(runner).Ownership!.OthersRunning(id).Contains(other),
            TimeSpan.FromSeconds(10),
            _cluster.Describe);

        await _cluster.EngineOf(runner).UpdateAsync(Configuration(runner, "^nothing$"), CancellationToken.None);

        Assert.Empty(_cluster.LinksOf(runner));
        Assert.True(_cluster.Bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted although another instance waits for the link");

        // Published while nobody runs the link: the queue keeps them for the instance that takes it over.
        var publisher = await _cluster.Bed.ConnectAsync("U");
        for (var i = 0; i < 5; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        await _cluster.AdvanceUntilAsync(() => _cluster.Runners().GetValueOrDefault(id) == other, TimeSpan.FromSeconds(20), _cluster.Describe);
        await downstream.ExpectAsync("m0", "m1", "m2", "m3", "m4");
    }

    [Fact]
    public async Task A_link_one_instance_drops_keeps_its_upstream_queue_for_an_instance_that_stands_by_for_it()
    {
        // The instance placement does not prefer starts first and takes the link; once the preferred one has settled, the
        // link is handed over to it, and the first stands by without asking for the lease (its fallback comes after 15 s):
        // its heartbeats say neither that it holds the link nor that it waits for it.
        await using var cluster = new InstanceCluster(links: 1);
        await cluster.DeclareExchangesAsync();
        var id = LinkId.For("D", "/", InstanceCluster.ExchangeName(0), "u", "upstream");
        var preferred = LinkPlacement.Preference(id, ["host-a", "host-b"])[0];
        var other = preferred == "host-a" ? "host-b" : "host-a";
        await cluster.StartAsync(other);
        await cluster.AdvanceUntilAsync(cluster.AllRunning, TimeSpan.FromSeconds(10), cluster.Describe);
        var downstream = await cluster.Bed.BindQueueAsync("D", InstanceCluster.ExchangeName(0), "key");
        await cluster.Bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        await cluster.StartAsync(preferred);
        await cluster.AdvanceUntilAsync(() => cluster.Runners().GetValueOrDefault(id) == preferred, TimeSpan.FromSeconds(10), cluster.Describe);
        await cluster.AdvanceUntilAsync( // until a heartbeat has told the new runner so
            () => cluster.EngineOf(preferred).Ownership!.OthersRunning(id).Contains(other),
            TimeSpan.FromSeconds(10),
            cluster.Describe);
        Assert.True(cluster.LinksOf(other) is [{ State: LinkState.Waiting, LeaseHolder: null }], cluster.Describe());

        await cluster.EngineOf(preferred).UpdateAsync(Configuration(preferred, "^nothing$"), CancellationToken.None);

        Assert.True(cluster.Bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted although another instance stands by for the link");
        var publisher = await cluster.Bed.ConnectAsync("U");
        for (var i = 0; i < 5; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        await cluster.AdvanceUntilAsync(() => cluster.Runners().GetValueOrDefault(id) == other, TimeSpan.FromSeconds(20), cluster.Describe);
        await downstream.ExpectAsync("m0", "m1", "m2", "m3", "m4");
    }

    [Fact]
    public async Task A_reload_to_another_cluster_name_on_the_runner_keeps_the_upstream_queue_for_the_instance_that_waits_for_it()
    {
        // One host of two renamed by a reload (a typo fixed the wrong way round, or a rename rolled out host by host): its
        // links now belong to another federation, and it deleted their upstream queues, which the other host of the old
        // federation was about to take over: what they buffered, and what the upstream routed until that host declared them
        // again, was lost (measured with FederationHost processes: 50 of 3,000 messages).
        var (id, runner) = Assert.Single(_cluster.Runners());
        var other = _cluster.Live.Single(i => i != runner);
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf(other) is [{ State: LinkState.Waiting, LeaseHolder: not null }],
            TimeSpan.FromSeconds(40),
            _cluster.Describe);
        await _cluster.AdvanceUntilAsync( // until a heartbeat has told the runner so
            () => _cluster.EngineOf(runner).Ownership!.OthersRunning(id).Contains(other),
            TimeSpan.FromSeconds(10),
            _cluster.Describe);

        var renamed = Configuration(runner, "^fed");
        renamed.ClusterName = "D2";
        await _cluster.EngineOf(runner).UpdateAsync(renamed, CancellationToken.None);

        Assert.True(_cluster.Bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted although another instance of the federation waits for the link");
        await _cluster.AdvanceUntilAsync(() => _cluster.Runners().GetValueOrDefault(id) == other, TimeSpan.FromSeconds(20), _cluster.Describe);
    }

    [Fact]
    public async Task A_link_every_instance_drops_is_cleaned_up_by_the_last_that_ran_it()
    {
        var (id, runner) = Assert.Single(_cluster.Runners());
        var other = _cluster.Live.Single(i => i != runner);

        // The waiting instance drops it first: it never touched the upstream. Then the runner, which nobody waits for any more.
        await _cluster.EngineOf(other).UpdateAsync(Configuration(other, "^nothing$"), CancellationToken.None);
        await _cluster.AdvanceUntilAsync( // until the runner has heard heartbeats that no longer claim the link
            () => _cluster.EngineOf(runner).Ownership!.OthersRunning(id).Count == 0,
            TimeSpan.FromSeconds(10),
            _cluster.Describe);
        await _cluster.EngineOf(runner).UpdateAsync(Configuration(runner, "^nothing$"), CancellationToken.None);

        Assert.False(_cluster.Bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue stayed although no instance has the link any more");
    }

    [Fact]
    public async Task A_link_every_instance_drops_in_one_reload_is_cleaned_up_once_the_heartbeats_no_longer_claim_it()
    {
        var (id, runner) = Assert.Single(_cluster.Runners());
        var other = _cluster.Live.Single(i => i != runner);
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf(other) is [{ State: LinkState.Waiting, LeaseHolder: not null }],
            TimeSpan.FromSeconds(40),
            _cluster.Describe);
        await _cluster.AdvanceUntilAsync( // until a heartbeat has told the runner that the other waits for the link
            () => _cluster.EngineOf(runner).Ownership!.OthersRunning(id).Contains(other),
            TimeSpan.FromSeconds(10),
            _cluster.Describe);

        var broker = _cluster.Bed.Broker("U");
        Assert.True(broker.ExchangeExists("/", UpstreamQueue + " A") || broker.ExchangeExists("/", UpstreamQueue + " B"), "the link has no internal exchange");

        // One reload on both: the runner goes first, while the other's last heartbeat (sent before its own reload) still
        // claims the link, so the runner keeps the queue for it. Then the other drops a link it never ran.
        await _cluster.EngineOf(runner).UpdateAsync(Configuration(runner, "^nothing$"), CancellationToken.None);
        Assert.True(_cluster.Bed.Broker("U").QueueExists("/", UpstreamQueue), "the runner did not keep the queue for the instance whose heartbeat claimed the link");
        await _cluster.EngineOf(other).UpdateAsync(Configuration(other, "^nothing$"), CancellationToken.None);

        // Nobody has the link any more: once the heartbeats say so, the queue goes, as it does when one instance drops it.
        await _cluster.AdvanceUntilAsync(
            () => !_cluster.Bed.Broker("U").QueueExists("/", UpstreamQueue),
            TimeSpan.FromSeconds(10),
            () => $"the upstream queue stayed although no instance has the link any more; {_cluster.Describe()}");
        Assert.False(broker.ExchangeExists("/", UpstreamQueue + " A"), "internal exchange A stayed");
        Assert.False(broker.ExchangeExists("/", UpstreamQueue + " B"), "internal exchange B stayed");
    }

    [Fact]
    public async Task A_link_brought_back_before_the_second_look_keeps_its_upstream_queue_and_what_it_buffers()
    {
        var downstream = await _cluster.Bed.BindQueueAsync("D", InstanceCluster.ExchangeName(0), "key");
        await _cluster.Bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        var (id, runner) = Assert.Single(_cluster.Runners());
        var other = _cluster.Live.Single(i => i != runner);
        await _cluster.AdvanceUntilAsync(
            () => _cluster.LinksOf(other) is [{ State: LinkState.Waiting, LeaseHolder: not null }],
            TimeSpan.FromSeconds(40),
            _cluster.Describe);
        await _cluster.AdvanceUntilAsync( // until a heartbeat has told the runner that the other waits for the link
            () => _cluster.EngineOf(runner).Ownership!.OthersRunning(id).Contains(other),
            TimeSpan.FromSeconds(10),
            _cluster.Describe);

        // Both drop the link (the runner keeps the queue for the other's last heartbeat), and the runner's next reload
        // brings it back before its second look: the link that runs from the queue again must keep it.
        await _cluster.EngineOf(runner).UpdateAsync(Configuration(runner, "^nothing$"), CancellationToken.None);
        await _cluster.EngineOf(other).UpdateAsync(Configuration(other, "^nothing$"), CancellationToken.None);
        var publisher = await _cluster.Bed.ConnectAsync("U");
        for (var i = 0; i < 3; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        await _cluster.EngineOf(runner).UpdateAsync(Configuration(runner, "^fed"), CancellationToken.None);
        await _cluster.AdvanceUntilAsync(() => _cluster.Runners().GetValueOrDefault(id) == runner, TimeSpan.FromSeconds(10), _cluster.Describe);
        await downstream.ExpectAsync("m0", "m1", "m2");
        var running = Assert.Single(_cluster.LinksOf(runner));

        // The link's start cancelled the second look, so nothing is left to delete the queue however long it runs.
        Assert.Equal(0, _cluster.EngineOf(runner).SweepsPending);
        Assert.True(_cluster.Bed.Broker("U").QueueExists("/", UpstreamQueue), "the queue of a link that runs again was deleted");

        // Not deleted and declared again by a restart: the link ran on undisturbed (a deletion takes its queue and lease).
        Assert.True(_cluster.LinksOf(runner) is [{ State: LinkState.Running } after] && after.Since == running.Since, _cluster.Describe());
        await Testbed.PublishAsync(publisher, "upstream", "key", "m3");
        await downstream.ExpectAsync("m0", "m1", "m2", "m3");
    }

    /// <summary>The configuration <see cref="InstanceCluster.StartAsync"/> gives an instance, with another policy pattern.</summary>
    private static FederationOptions Configuration(string instance, string pattern) =>
        new FederationOptions { InstanceName = instance, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", pattern, upstream: "u");
}
