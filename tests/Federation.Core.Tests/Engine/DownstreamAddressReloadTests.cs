using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A reload that writes the downstream's address another way (<c>memory://alias-of-D</c> for <c>memory://D</c>, as the
/// machine's name is for 127.0.0.1), without a cluster name known before connecting (as on AMQP): the engine asks the
/// broker, and when it names the same cluster and vhost the links keep their ids, upstream queues and duplicate-suppression
/// ledgers (event 2038). Before, the reload was read as another downstream (event 2032): the links came back with the same
/// ids and queues, but their ledgers were dropped, and a message-id published before the reload and again after it
/// crossed twice.
/// </summary>
public sealed class DownstreamAddressReloadTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private AddressAliasTransport? _aliases;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _aliases = new AddressAliasTransport(new AdvertisedNameOnlyTransport(inner));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(string downstreamUri) =>
        new FederationOptions { Downstream = { Uri = downstreamUri } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed\\.", upstream: "u");

    private static MessageProperties WithId(int i) => new() { MessageId = $"id-{i}", Persistent = true };

    private IEnumerable<ConnectionRequest> Probes => _aliases!.Requests.Where(r => r.ConnectionName == DownstreamCluster.ProbeConnectionName);

    [Fact]
    public async Task A_reload_to_another_address_of_the_same_downstream_keeps_the_link_its_upstream_queue_and_its_ledger()
    {
        var (engine, queue, publisher) = await StartAsync();
        var before = Assert.Single(engine.GetLinks());
        var ledger = $"federation: fed.downstream <- u ledger {before.Id}";
        Assert.True(_bed.Broker("D").LedgerExists("/", ledger));

        await engine.UpdateAsync(Configuration("memory://alias-of-D/%2F"), CancellationToken.None);

        var said = Assert.Single(_logs.WithId(2038));
        Assert.Equal(LogLevel.Information, said.Level);
        Assert.Contains("memory://alias-of-D/%2F", said.Message, StringComparison.Ordinal);
        Assert.Contains("same cluster ('D') and vhost ('/')", said.Message, StringComparison.Ordinal);
        Assert.Empty(_logs.WithId(2032));
        Assert.Empty(_logs.WithId(2039));
        Assert.Single(_logs.WithId(2018));
        Assert.Equal(["memory://alias-of-D/%2F"], Probes.Select(p => p.Uri));
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var after = Assert.Single(engine.GetLinks());
        Assert.Equal(before.Id, after.Id);
        Assert.NotEqual(before.Since, after.Since);
        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted");
        Assert.True(_bed.Broker("D").LedgerExists("/", ledger), "the ledger was dropped");

        // The same five message-ids again, and one new: one message per id inside the window.
        await PublishAsync(publisher, 5, WithId);
        await Testbed.PublishAsync(publisher, "upstream", "key", "new", WithId(5));
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ DroppedMessages: { } dropped }] && dropped.GetValueOrDefault("duplicate") == 5 && queue.Count >= 6,
            () => $"downstream has [{string.Join(",", queue.Bodies)}]; dropped: {string.Join(", ", engine.GetLinks().SelectMany(l => l.DroppedMessages ?? new Dictionary<string, long>()))}");
        await queue.ExpectNoMoreThanAsync(6);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4", "new"], queue.Bodies);
    }

    [Fact]
    public async Task A_reload_to_another_downstream_broker_asks_it_and_starts_over_as_before()
    {
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D2"), "fed.downstream");
        var (engine, _, _) = await StartAsync();
        var before = Assert.Single(engine.GetLinks());

        await engine.UpdateAsync(Configuration(Testbed.Uri("D2")), CancellationToken.None);

        // D2 names itself D2: another downstream, whose links have other ids.
        Assert.Equal([Testbed.Uri("D2")], Probes.Select(p => p.Uri));
        Assert.Single(_logs.WithId(2032));
        Assert.Empty(_logs.WithId(2038));
        Assert.Empty(_logs.WithId(2039));
        Assert.Empty(_logs.WithId(2018));
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Id != before.Id,
            () => $"links: {string.Join(", ", engine.GetLinks().Select(l => $"{l.Id} {l.State}"))}");
        Assert.False(_bed.Broker("D").LedgerExists("/", $"federation: fed.downstream <- u ledger {before.Id}"), "the old downstream's ledger stayed");
    }

    [Fact]
    public async Task A_reload_to_a_downstream_address_that_cannot_be_asked_says_why_and_starts_over_as_before()
    {
        var (engine, _, _) = await StartAsync();

        await engine.UpdateAsync(Configuration("memory://user:secret@unmapped-error-alias-of-D/%2F"), CancellationToken.None);

        var why = Assert.Single(_logs.WithId(2039));
        Assert.Equal(LogLevel.Warning, why.Level);
        Assert.Contains("a client error no transport mapped", why.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", why.Message, StringComparison.Ordinal);
        Assert.Single(_logs.WithId(2032));
        Assert.Empty(_logs.WithId(2038));
    }

    [Fact]
    public async Task A_reload_that_also_configures_the_cluster_name_the_links_run_under_keeps_them_without_asking()
    {
        var (engine, _, _) = await StartAsync();
        var before = Assert.Single(engine.GetLinks());

        var named = Configuration("memory://alias-of-D/%2F");
        named.ClusterName = "D";
        await engine.UpdateAsync(named, CancellationToken.None);

        Assert.Empty(Probes);
        Assert.Single(_logs.WithId(2018));
        Assert.Empty(_logs.WithId(2032));
        Assert.Empty(_logs.WithId(2038));
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Equal(before.Id, Assert.Single(engine.GetLinks()).Id);
        Assert.True(_bed.Broker("D").LedgerExists("/", $"federation: fed.downstream <- u ledger {before.Id}"), "the ledger was dropped");
    }

    [Fact]
    public async Task A_stop_during_the_probe_of_the_new_downstream_address_cancels_it_and_stops_the_links_as_any_stop_does()
    {
        // The new address drops every packet: the probe's connect never answers. On the engine's fake clock, which the test
        // does not move, the probe's own 10 s never pass: only the stop can end it.
        var time = new FakeTimeProvider();
        var (engine, _, _) = await StartAsync(time);
        var reload = engine.UpdateAsync(Configuration("memory://black-hole-alias-of-D/%2F"), CancellationToken.None);
        await Testbed.Eventually(() => _aliases!.BlackHoled == 1, () => $"{_aliases!.BlackHoled} connect(s) waiting on the black hole");

        var stopping = engine.StopAsync(CancellationToken.None);

        await Testbed.Eventually(() => stopping.IsCompleted && reload.IsCompleted, () => $"stop completed: {stopping.IsCompleted}, reload completed: {reload.IsCompleted}");
        await stopping;
        await reload;
        Assert.Equal(0, _aliases!.BlackHoled);

        // Neither told the same downstream nor another: the link stopped as at any stop (cleanly, alone), not retired.
        Assert.Empty(_logs.WithId(2032));
        Assert.Empty(_logs.WithId(2038));
        Assert.Empty(_logs.WithId(2039));
        Assert.Empty(_logs.WithId(2020));
        Assert.Contains("upstream objects deleted", Assert.Single(_logs.WithId(1003)).Message, StringComparison.Ordinal);
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue), "a single engine's stop deletes its queues");
    }

    private static async Task PublishAsync(IBrokerConnection publisher, int count, Func<int, MessageProperties> properties)
    {
        for (var i = 0; i < count; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}", properties(i));
        }
    }

    /// <summary>The basic link from U into D, with five messages (message-ids id-0 to id-4) forwarded.</summary>
    private async Task<(FederationEngine Engine, QueueProbe Queue, IBrokerConnection Publisher)> StartAsync(TimeProvider? time = null)
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            Testbed.AddUpstreamsAndPolicies(o, Configuration(Testbed.Uri("D")));
        }, loggerFactory: _logs.AsFactory(), time: time);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        var publisher = await _bed.ConnectAsync("U");
        await PublishAsync(publisher, 5, WithId);
        await Testbed.Eventually(() => queue.Count == 5, () => $"{queue.Count} of 5 forwarded");
        return (engine, queue, publisher);
    }
}
