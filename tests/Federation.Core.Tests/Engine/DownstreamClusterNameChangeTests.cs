using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A downstream that advertises another cluster name after a reconnect, with the configuration unchanged (a nats-server
/// without a configured name gets a new one at every start, <c>rabbitmqctl set_cluster_name</c>): the engine says so, and
/// the links under the new name forward what the upstream queues named after the old name buffered, then delete them,
/// instead of leaving them on the upstream, filling for good (until 6 Dec 2026).
/// </summary>
public sealed class DownstreamClusterNameChangeTests : IAsyncLifetime
{
    private const int ClusterNameChanged = 2027;
    private const int RenamedKeepingQueue = 2035;
    private const int RetiredQueueForwarded = 2033;
    private const int RenamedQueueWaiting = 2036;
    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _log = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _log.Dispose();
    }

    [Fact]
    public async Task A_renamed_downstream_is_logged_and_the_old_upstream_queue_is_forwarded_then_deleted()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: _log.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var before = engine.GetLinks()[0].Id;
        const string OldQueue = "federation: upstream -> D:fed.downstream";
        Assert.True(_bed.Broker("U").QueueExists("/", OldQueue));
        var oldLedger = $"federation: fed.downstream <- u ledger {before}";
        Assert.True(_bed.Broker("D").LedgerExists("/", oldLedger));

        _bed.Broker("D").ClusterName = "D-renamed";
        _bed.Broker("D").DropConnections();

        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Id != before,
            () => string.Join(", ", engine.GetLinks().Select(l => $"{l.Id} {l.State} {l.Error}")));
        Assert.True(_bed.Broker("U").QueueExists("/", "federation: upstream -> D-renamed:fed.downstream"));
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", OldQueue), () => "the queue under the old name, forwarded, is deleted");
        var warning = Assert.Single(_log.WithId(ClusterNameChanged));
        Assert.Contains("'D-renamed', was 'D'", warning.Message, StringComparison.Ordinal);
        Assert.Contains(before, Assert.Single(_log.WithId(RenamedKeepingQueue)).Message, StringComparison.Ordinal);
        await Testbed.Eventually(() => _log.WithId(RetiredQueueForwarded).Count == 1, () => "the forwarding logged once it returned (event 2033)");
        Assert.Empty(_log.WithId(2020));

        // The old link stopped without its lease (the rename's connection drop took it): its ledger goes with its queue.
        await Testbed.Eventually(() => !_bed.Broker("D").LedgerExists("/", oldLedger), () => "the old link's ledger dropped after the forwarding");
        Assert.True(_bed.Broker("D").LedgerExists("/", $"federation: fed.downstream <- u ledger {engine.GetLinks()[0].Id}"));
    }

    [Fact]
    public async Task A_reload_that_replaces_the_link_under_the_new_name_while_the_old_queue_waits_for_its_lease_completes()
    {
        // The old queue waits for the old link's lease, which another instance holds. A reload then replaces the link under
        // the new name. Until 7 Dec 2026 the wait saw its successor stopped but never gave the queue back: it spun without
        // yielding (a timer more at every turn) and the reload waited for it for good.
        FederationOptions Configuration(int prefetch) => new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u =>
            {
                u.Exchange = "upstream";
                u.PrefetchCount = prefetch;
            })
            .Policy("fed", "^fed\\.", upstream: "u");
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => (u.Exchange, u.PrefetchCount) = ("upstream", 10)).Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: _log.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        const string OldQueue = "federation: upstream -> D:fed.downstream";

        _bed.Broker("D").ClusterName = "D-renamed";
        _bed.Broker("D").DropConnections();
        var other = await _bed.ConnectAsync("D");
        var oldLease = (await other.Leases!.TryAcquireAsync(new LeaseRequest("federation: lease D fed.downstream -> u", "host-b"), CancellationToken.None)).Lease;
        Assert.NotNull(oldLease);
        await Testbed.Eventually(
            () => _log.WithId(RenamedQueueWaiting).Any(e => e.Message.Contains("'host-b'", StringComparison.Ordinal)),
            () => "the old queue waits for the old link's lease (event 2036)",
            TimeSpan.FromSeconds(30));

        await engine.UpdateAsync(Configuration(prefetch: 20), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        // The replacement takes the old queue over once the lease is free: forwarded, then deleted.
        Assert.True(_bed.Broker("U").QueueExists("/", OldQueue));
        await oldLease!.DisposeAsync();
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", OldQueue), () => "the old queue, forwarded by the replacement, is deleted", TimeSpan.FromSeconds(30));
        Assert.Empty(_log.WithId(2020));
    }

    [Fact]
    public async Task A_reconnect_under_the_same_name_logs_nothing()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: _log.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var before = engine.GetLinks()[0].Id;

        _bed.Broker("D").DropConnections();
        await Testbed.Eventually(
            () => _log.WithId(2001).Count >= 2 && engine.GetLinks() is [{ State: LinkState.Running }],
            () => "connected twice and running");
        Assert.Equal(before, engine.GetLinks()[0].Id);
        Assert.Empty(_log.WithId(ClusterNameChanged));
    }
}
