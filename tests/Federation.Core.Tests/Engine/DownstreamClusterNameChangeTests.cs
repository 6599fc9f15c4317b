using Federation.Core.Links;
using Federation.Core.Tests.Support;

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
