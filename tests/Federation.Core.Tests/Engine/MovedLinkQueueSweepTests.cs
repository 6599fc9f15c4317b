using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A reload that points a link at another broker on every instance of a federation. The instance that ran the link kept
/// its queue on the old broker whenever another live instance still had the link (it had not reloaded yet, or had, and
/// had the link from the new broker); the other then replaced a link it never ran, with nothing to delete the queue with,
/// and the old queue stayed for good, filling up with what the old upstream exchange routed to it. Now the heartbeats say
/// which brokers each instance's upstreams reach, and the old queue is looked at again once they have caught up. The same
/// for a reload that keeps the broker but switches the kind of upstream queue (NATS: <c>jetstream=true</c>): the heartbeats
/// said no kind, so every instance kept the old kind's queue for the others, for good.
/// </summary>
public sealed class MovedLinkQueueSweepTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, FederationEngine> _engines = new(StringComparer.Ordinal);
    private readonly CapturingLoggerProvider _logs = new();
    private BeforeQueueDeletionTransport? _deletions;

    public async Task InitializeAsync()
    {
        _bed.Broker("D");
        _bed.Broker("U");
        _bed.Broker("U2");
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        _deletions = new BeforeQueueDeletionTransport(_bed.Transport);
    }

    public async Task DisposeAsync()
    {
        foreach (var engine in _engines.Values)
        {
            await engine.DisposeAsync();
        }

        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_link_every_instance_moves_to_another_broker_leaves_no_queue_on_the_old_one(bool holderReloadsFirst)
    {
        foreach (var instance in new[] { "host-a", "host-b" })
        {
            var engine = new FederationEngine(Options(instance, "U"), [_deletions!], _logs.AsFactory(), timeProvider: _time);
            _engines.Add(instance, engine);
            await engine.StartAsync(CancellationToken.None);
        }

        var queue = UpstreamNaming.QueueName("upstream", "D", "/", "fed", "/");
        var (old, moved) = (_bed.Broker("U"), _bed.Broker("U2"));
        await AdvanceUntilAsync(() => old.QueueExists("/", queue) && States() == "Running,Waiting", TimeSpan.FromSeconds(30));

        // A few heartbeats more, so that each has heard the other claim the link.
        var settled = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - settled >= TimeSpan.FromSeconds(5) && States() == "Running,Waiting", TimeSpan.FromSeconds(20));

        // Messages still reach the old queue right before it is deleted (straight, through the default exchange): the
        // warning counts what the deletion discarded, these included.
        var publisher = await _bed.ConnectAsync("U");
        int? heldAtDeletion = null;
        _deletions!.BeforeDeletion = async name =>
        {
            if (name == queue && heldAtDeletion is null && old.QueueExists("/", queue))
            {
                for (var i = 0; i < 5; i++)
                {
                    await Testbed.PublishAsync(publisher, string.Empty, queue, $"late{i}");
                }

                heldAtDeletion = old.GetMessageCount("/", queue);
            }
        };

        var holder = _engines.Single(e => e.Value.GetLinks()[0].State == LinkState.Running).Key;
        var other = _engines.Keys.Single(k => k != holder);
        var order = holderReloadsFirst ? new[] { holder, other } : [other, holder];
        await _engines[order[0]].UpdateAsync(Options(order[0], "U2"), CancellationToken.None);
        var first = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - first >= TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        await _engines[order[1]].UpdateAsync(Options(order[1], "U2"), CancellationToken.None);

        // The link runs once, from the new broker, and nothing is left on the old one. The sweep's warning comes once its
        // deletion has returned, which the old broker shows a moment before: both are waited for.
        await AdvanceUntilAsync(
            () => moved.QueueExists("/", queue) && States() == "Running,Waiting" && !old.QueueExists("/", queue) && _logs.WithId(1028).Count > 0,
            TimeSpan.FromSeconds(30));
        Assert.True(heldAtDeletion >= 5, $"held at deletion: {heldAtDeletion}");
        var discarded = Assert.Single(_logs.WithId(1028));
        Assert.Contains($"discards {heldAtDeletion} message(s) it held", discarded.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_link_every_instance_points_at_another_address_of_the_same_broker_keeps_its_queue(bool holderReloadsFirst)
    {
        // alias-of-U reaches U, as a host name reaches its address or another node its cluster: only connecting tells.
        var transport = new AddressAliasTransport(_deletions!);
        foreach (var instance in new[] { "host-a", "host-b" })
        {
            var engine = new FederationEngine(Options(instance, "U"), [transport], _logs.AsFactory(), timeProvider: _time);
            _engines.Add(instance, engine);
            await engine.StartAsync(CancellationToken.None);
        }

        var queue = UpstreamNaming.QueueName("upstream", "D", "/", "fed", "/");
        var upstream = _bed.Broker("U");
        await AdvanceUntilAsync(() => upstream.QueueExists("/", queue) && States() == "Running,Waiting", TimeSpan.FromSeconds(30));
        var settled = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - settled >= TimeSpan.FromSeconds(5) && States() == "Running,Waiting", TimeSpan.FromSeconds(20));

        var holder = _engines.Single(e => e.Value.GetLinks()[0].State == LinkState.Running).Key;
        var other = _engines.Keys.Single(k => k != holder);
        var order = holderReloadsFirst ? new[] { holder, other } : [other, holder];
        await _engines[order[0]].UpdateAsync(Options(order[0], "alias-of-U"), CancellationToken.None);
        var first = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - first >= TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        await _engines[order[1]].UpdateAsync(Options(order[1], "alias-of-U"), CancellationToken.None);

        // Well past every second look (the sweep waits LiveFor plus a heartbeat): the queue the link consumes stays.
        var reloaded = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - reloaded >= TimeSpan.FromSeconds(30) && States() == "Running,Waiting", TimeSpan.FromSeconds(60));
        Assert.True(upstream.QueueExists("/", queue), Describe());
        Assert.Empty(_logs.WithId(1028));
        Assert.Empty(_logs.WithId(2025));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_link_every_instance_switches_to_another_kind_of_queue_leaves_no_queue_of_the_old_kind(bool holderReloadsFirst)
    {
        // Kind B's objects have names of their own, as a JetStream durable consumer and a core NATS link's queue are apart.
        var transport = new QueueKindTransport(_deletions!, separateObjects: true);
        foreach (var instance in new[] { "host-a", "host-b" })
        {
            var engine = new FederationEngine(Options(instance, "U"), [transport], _logs.AsFactory(), timeProvider: _time);
            _engines.Add(instance, engine);
            await engine.StartAsync(CancellationToken.None);
        }

        var queue = UpstreamNaming.QueueName("upstream", "D", "/", "fed", "/");
        var upstream = _bed.Broker("U");
        await AdvanceUntilAsync(() => upstream.QueueExists("/", queue) && States() == "Running,Waiting", TimeSpan.FromSeconds(30));
        var settled = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - settled >= TimeSpan.FromSeconds(5) && States() == "Running,Waiting", TimeSpan.FromSeconds(20));

        var holder = _engines.Single(e => e.Value.GetLinks()[0].State == LinkState.Running).Key;
        var other = _engines.Keys.Single(k => k != holder);
        var order = holderReloadsFirst ? new[] { holder, other } : [other, holder];
        await _engines[order[0]].UpdateAsync(Options(order[0], "U", kindB: true), CancellationToken.None);
        var first = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - first >= TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        await _engines[order[1]].UpdateAsync(Options(order[1], "U", kindB: true), CancellationToken.None);

        // The link runs once, from kind B's queue, and the old kind's is gone: before, both instances kept it (event 2019),
        // each for the other, whose heartbeats said only that its upstream still reached the broker.
        var kindB = QueueKindTransport.KindBName(queue);
        await AdvanceUntilAsync(
            () => upstream.QueueExists("/", kindB) && States() == "Running,Waiting" && !upstream.QueueExists("/", queue),
            TimeSpan.FromSeconds(30));
    }

    private static FederationOptions Options(string instance, string upstreamBroker, bool kindB = false) =>
        new FederationOptions { InstanceName = instance, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", upstreamBroker, u =>
            {
                u.Exchange = "upstream";
                if (kindB)
                {
                    u.Uris = [Testbed.Uri(upstreamBroker).Replace("memory://", "memory://kindb:secret@", StringComparison.Ordinal)];
                }
            })
            .Policy("fed", "^fed$", upstream: "u");

    private string States() => string.Join(",", _engines.Values.Select(e => e.GetLinks() is [var l] ? l.State.ToString() : "none").Order(StringComparer.Ordinal));

    private string Describe() =>
        string.Join("; ", _engines.Select(e => e.Value.GetLinks() is [var l] ? $"{e.Key}: {l.State} {l.Uri} {l.Waiting} {l.Error}" : $"{e.Key}: no link"))
        + $"; old queue: {_bed.Broker("U").QueueExists("/", UpstreamNaming.QueueName("upstream", "D", "/", "fed", "/"))} at {_time.GetUtcNow():HH:mm:ss.fff}";

    private Task<TimeSpan> AdvanceUntilAsync(Func<bool> condition, TimeSpan fakeLimit) => _time.AdvanceUntilAsync(condition, fakeLimit, Describe);
}
