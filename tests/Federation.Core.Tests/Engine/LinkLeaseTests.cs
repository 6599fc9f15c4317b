using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two engines with the same configuration against one downstream: the link's lease on the downstream broker lets one run
/// the link while the other waits, says on whom, and takes over when the first stops or dies, losing nothing.
/// </summary>
public sealed class LinkLeaseTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed";
    private const string Lease = "federation: lease D fed -> u";

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ConsumerCensus _census = new();
    private readonly List<FederationEngine> _engines = [];
    private readonly List<HeldConfirmsTransport> _holding = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // A forward still waiting for its confirm would hold its engine's stop until the (fake) clock ended the drain.
        foreach (var confirm in _holding.SelectMany(h => h.Held))
        {
            confirm.TrySetResult();
        }

        foreach (var engine in _engines)
        {
            await engine.DisposeAsync();
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task Second_engine_waits_says_who_holds_the_lease_and_leaves_the_upstream_alone()
    {
        var (a, _) = await StartEngineAsync("host-1");
        var queue = await _bed.BindQueueAsync("D", "fed", "k");
        await WaitForHolderAsync(a);
        var internalExchanges = InternalExchangesOnUpstream();

        var (b, _) = await StartEngineAsync("host-2");
        await WaitForStateAsync(b, LinkState.Waiting);

        var waiting = b.GetLinks()[0];
        Assert.Equal(Lease, waiting.Lease);

        // Placement puts this link on host-1 (its rendezvous weight is the higher), so host-2 either stands by without
        // asking or was refused by host-1: either way it says who runs the link.
        Assert.Equal(("host-2", "host-1"), (waiting.Instance, waiting.RunningOn));
        Assert.Contains($"'{Lease}'", waiting.Waiting, StringComparison.Ordinal);
        Assert.Contains("'host-1'", waiting.Waiting, StringComparison.Ordinal);
        Assert.Null(waiting.Error);
        var running = a.GetLinks()[0];
        Assert.Equal((LinkState.Running, Lease, "host-1", "host-1"), (running.State, running.Lease, running.LeaseHolder, running.RunningOn));
        Assert.Null(running.Waiting);
        Assert.Equal("host-1", ExclusiveQueueLeases.HolderOf(_bed.Broker("D").GetQueue("/", Lease)!.Arguments));

        // Polls that find the lease taken change nothing upstream: no A/B swap, no second consumer.
        await AdvanceWhileHeardAsync(LinkLease.LongestPoll * 5);

        await WaitForStateAsync(b, LinkState.Waiting);
        Assert.Equal(internalExchanges, InternalExchangesOnUpstream());
        Assert.Equal(["host-1"], _census.Owners);

        await PublishAsync(1, 20);
        await queue.ExpectAsync(Bodies(1, 20));
    }

    [Fact]
    public async Task Waiting_engine_takes_over_when_the_holder_stops_and_nothing_is_lost()
    {
        // Kept on a clean stop: with the default cleanup mode the stopping engine deletes the upstream queue (see README).
        var (a, _) = await StartEngineAsync("host-1", ResourceCleanupMode.Never);
        var queue = await _bed.BindQueueAsync("D", "fed", "k");
        await WaitForHolderAsync(a);
        var (b, _) = await StartEngineAsync("host-2", ResourceCleanupMode.Never);
        await WaitForStateAsync(b, LinkState.Waiting);
        await PublishAsync(1, 50);
        await Testbed.Eventually(() => queue.Count == 50, () => $"50 forwarded by host-1, have {queue.Count}");

        await a.StopAsync(CancellationToken.None);
        Assert.False(_bed.Broker("D").QueueExists("/", Lease), "a clean stop releases the lease");

        // Published while nobody runs the link: they wait in the upstream queue.
        await PublishAsync(51, 100);
        await AdvanceUntilAsync(() => b.GetLinks()[0].State == LinkState.Running, "host-2 takes over");

        var taken = b.GetLinks()[0];
        Assert.Equal("host-2", taken.LeaseHolder);
        Assert.Null(taken.Waiting);
        await PublishAsync(101, 150);
        await queue.ExpectAsync(Bodies(1, 150));
        _census.AssertOneAtATime();
        Assert.Equal(["host-1", "host-2"], _census.Owners);
    }

    [Fact]
    public async Task Waiting_engine_takes_over_when_the_holder_dies_and_nothing_is_lost()
    {
        var (a, crashA) = await StartEngineAsync("host-1");
        var queue = await _bed.BindQueueAsync("D", "fed", "k");
        await WaitForHolderAsync(a);
        var (b, _) = await StartEngineAsync("host-2");
        await WaitForStateAsync(b, LinkState.Waiting);
        await PublishAsync(1, 50);
        await Testbed.Eventually(() => queue.Count == 50, () => $"50 forwarded by host-1, have {queue.Count}");

        // As kill -9: no clean stop, so the upstream queue and its binding stay; the broker drops the lease with the connection.
        crashA.Crash();
        Assert.False(_bed.Broker("D").QueueExists("/", Lease), "the broker drops a dead holder's lease");
        await PublishAsync(51, 100);
        await AdvanceUntilAsync(() => b.GetLinks()[0].State == LinkState.Running, "host-2 takes over");

        await PublishAsync(101, 150);
        await queue.ExpectAsync(Bodies(1, 150));
        _census.AssertOneAtATime();
        Assert.Equal("host-2", ExclusiveQueueLeases.HolderOf(_bed.Broker("D").GetQueue("/", Lease)!.Arguments));
    }

    [Fact]
    public async Task A_lost_lease_stops_consuming_at_once_and_the_link_asks_for_it_again()
    {
        var (a, transportA) = await StartEngineAsync("host-1");
        var queue = await _bed.BindQueueAsync("D", "fed", "k");
        await WaitForHolderAsync(a);
        var (b, _) = await StartEngineAsync("host-2");
        await WaitForStateAsync(b, LinkState.Waiting);
        await WaitUntilStandingByForHost1Async(b);

        // host-1 loses the downstream (and with it the lease) but not the upstream: its consumer must go all the same,
        // before any time passes, because host-2 may take the link at its next poll (or, here, once host-1's silence
        // moves the link to it).
        transportA.LoseConnectionsTo("D");
        await Testbed.Eventually(() => _census.Owners.Count == 2 || _census.OpenOn(UpstreamQueue) == 0, () => "host-1's consumer closes");

        // host-1 reconnects at once and asks for the lease again; it takes it back unless a retry of its own waits on the
        // clock long enough for host-2 to take it first. Either way the link runs again on one engine, the other waits.
        await AdvanceUntilAsync(
            () => _census.Owners.Count == 2 && _census.OpenOn(UpstreamQueue) == 1 && (a.GetLinks()[0].State == LinkState.Running || b.GetLinks()[0].State == LinkState.Running),
            "the link runs again, on one engine");
        _census.AssertOneAtATime();
        var other = a.GetLinks()[0].State == LinkState.Running ? b : a;
        await WaitForStateAsync(other, LinkState.Waiting);
        await PublishAsync(1, 20);
        await queue.ExpectAsync(Bodies(1, 20));
        _census.AssertOneAtATime();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_lease_deleted_on_the_broker_is_lost_so_the_holder_stops_consuming_before_another_engine_takes_it(bool spread)
    {
        // Without spreading, host-2 polls for the lease; with it, host-2 stands by where placement puts the link.
        var (a, _) = await StartEngineAsync("host-1", spread: spread);
        var queue = await _bed.BindQueueAsync("D", "fed", "k");
        await WaitForHolderAsync(a);
        var (b, _) = await StartEngineAsync("host-2", spread: spread);
        await WaitForStateAsync(b, LinkState.Waiting);
        if (spread)
        {
            await WaitUntilStandingByForHost1Async(b);
        }

        // As rabbitmqctl delete_queue: host-1's downstream connection lives on, so only the deletion itself tells. It
        // stops consuming without any time passing; the clock stands still meanwhile, or host-2's next poll could come
        // (in fake time) before host-1's consumer finished closing (in real time) on a loaded machine, which would be
        // two consumers at once that a real clock never sees (host-2 polls seconds apart, the close takes milliseconds).
        var ownersBefore = _census.Owners.Count;
        _bed.Broker("D").DeleteQueue("/", Lease);
        await Testbed.Eventually(() => _census.OpenOn(UpstreamQueue) == 0 || _census.Owners.Count > ownersBefore, () => "host-1 stops consuming");

        // Whoever asks first holds the lease now (host-1 asks again at once, host-2 at its next poll), and only that one runs.
        await AdvanceUntilAsync(
            () => _census.Owners.Count > 1 && _census.OpenOn(UpstreamQueue) == 1 && (a.GetLinks()[0].State == LinkState.Running || b.GetLinks()[0].State == LinkState.Running),
            "the link runs again, on one engine");
        var holder = ExclusiveQueueLeases.HolderOf(_bed.Broker("D").GetQueue("/", Lease)!.Arguments);
        var (runner, other) = a.GetLinks()[0].State == LinkState.Running ? ("host-1", b) : ("host-2", a);
        Assert.Equal((holder, runner), (_census.Owners[^1], _census.Owners[^1]));
        await WaitForStateAsync(other, LinkState.Waiting);
        await AdvanceWhileHeardAsync(LinkLease.LongestPoll * 5);

        await PublishAsync(1, 20);
        await queue.ExpectAsync(Bodies(1, 20));
        _census.AssertOneAtATime();
    }

    [Fact]
    public async Task A_lease_lost_with_a_forward_in_flight_stops_consuming_before_the_forward_settles()
    {
        // host-1's downstream confirms only when the test says: a forward stays in flight, as with a slow or blocked
        // downstream, or one cut off from the holder (whose renewals failing is what lost a time-to-live lease).
        HeldConfirmsTransport? held = null;
        var (a, _) = await StartEngineAsync("host-1", spread: false, wrap: inner => held = new HeldConfirmsTransport(inner));
        _holding.Add(held!);
        var queue = await _bed.BindQueueAsync("D", "fed", "k");
        await WaitForHolderAsync(a);
        var (b, _) = await StartEngineAsync("host-2", spread: false);
        await WaitForStateAsync(b, LinkState.Waiting);
        await PublishAsync(1, 1);
        await Testbed.Eventually(() => held!.Held.Count == 1, () => $"host-1 forwards the message and waits for its confirm; held {held!.Held.Count}");

        // The lease goes while the forward waits. Another engine may take the link at its next poll, whenever that comes:
        // host-1's consumer must go now, not once the forward has settled (up to the drain timeout), or both engines
        // consume the upstream queue at once. The clock stands still, so no drain timeout can end the wait meanwhile.
        _bed.Broker("D").DeleteQueue("/", Lease);
        await Testbed.Eventually(() => _census.OpenOn(UpstreamQueue) == 0, () => "host-1 stops consuming with its forward still in flight");

        // The confirm comes late; the consumer it would have been acked on is gone, so the message returns upstream and is
        // forwarded again by whoever runs the link (at-least-once: suppression is off on this downstream).
        held!.Held[0].TrySetResult();
        await AdvanceUntilAsync(
            () => _census.OpenOn(UpstreamQueue) == 1 && (a.GetLinks()[0].State == LinkState.Running || b.GetLinks()[0].State == LinkState.Running),
            "the link runs again, on one engine");
        await PublishAsync(2, 20);
        await Testbed.Eventually(
            () =>
            {
                // Whoever runs the link now: host-1's forwards are confirmed as they come.
                foreach (var confirm in held.Held)
                {
                    confirm.TrySetResult();
                }

                return queue.Bodies.Distinct().Count() == 20;
            },
            () => $"20 distinct messages downstream, have {string.Join(",", queue.Bodies)}");
        Assert.Equal(Bodies(1, 20).Order(StringComparer.Ordinal), queue.Bodies.Distinct().Order(StringComparer.Ordinal));
        _census.AssertOneAtATime();
    }

    [Fact]
    public async Task Lease_name_falls_back_to_the_link_id_when_the_names_are_too_long_for_a_queue()
    {
        var upstream = ResolvedUpstream.FromDefinition("u", new UpstreamDefinition { Uris = { "memory://U/%2f" } });
        var definition = new LinkDefinition("0badf00d", new ExchangeSpec(new string('x', 250), ExchangeSpec.Types.Topic), upstream, "p", "D", "/");
        Assert.Equal("federation: lease 0badf00d", LinkLease.NameFor(definition));
        Assert.Equal(Lease, LinkLease.NameFor(definition with { Exchange = new ExchangeSpec("fed", ExchangeSpec.Types.Topic) }));
        await Task.CompletedTask;
    }

    private async Task<(FederationEngine Engine, CrashableTransport Transport)> StartEngineAsync(string instance, ResourceCleanupMode cleanup = ResourceCleanupMode.Default, bool spread = true, Func<ITransport, ITransport>? wrap = null)
    {
        _bed.Broker("D");
        _bed.Broker("U");
        var options = new FederationOptions { InstanceName = instance, Downstream = { Uri = Testbed.Uri("D") }, SpreadLinks = spread }
            .Upstream("u", "U", u =>
            {
                u.Exchange = "upstream";
                u.ResourceCleanupMode = cleanup;
            })
            .Policy("fed", "^fed$", upstream: "u");
        var transport = new CrashableTransport(_bed.Transport, _census, instance);
        var engine = new FederationEngine(options, [wrap?.Invoke(transport) ?? transport], timeProvider: _time);
        _engines.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed");
        return (engine, transport);
    }

    /// <summary>
    /// Waits until <paramref name="holder"/> runs the link and its binding is upstream: a link runs once it has set up
    /// what the downstream had when it started, and a binding made just before then may still be on its way upstream,
    /// where a message published meanwhile would find no route.
    /// </summary>
    private async Task WaitForHolderAsync(FederationEngine holder)
    {
        await Testbed.WaitForRunningLinksAsync(holder, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "k", 1);
    }

    /// <summary>
    /// Moves the clock until <paramref name="waiting"/> has heard host-1 and stands by for it where placement puts the link,
    /// so that it asks for the lease only as the clock moves. Until it has heard the others, an instance places every link
    /// on itself and asks at once, whenever its first look at the others comes (in real time): had that come just as host-1
    /// lost the lease, before host-1's consumer finished closing, the census would see two consumers that a real clock
    /// almost never shows (the others' heartbeats are heard within a second, the close takes milliseconds).
    /// </summary>
    private Task WaitUntilStandingByForHost1Async(FederationEngine waiting) =>
        AdvanceUntilAsync(
            () => waiting.GetLinks() is [{ State: LinkState.Waiting, Waiting: { } why }] && why.StartsWith("placement puts it on instance 'host-1'", StringComparison.Ordinal),
            "host-2 stands by for host-1, where placement puts the link");

    private static Task WaitForStateAsync(FederationEngine engine, LinkState state) =>
        Testbed.Eventually(
            () => engine.GetLinks() is [{ } link] && link.State == state,
            () => $"expected one {state} link, have: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error} {l.Waiting}"))}");

    /// <summary>Moves the fake clock a poll at a time until <paramref name="condition"/> holds.</summary>
    private async Task AdvanceUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Testbed.Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out: " + what);
            _time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.Delay(Testbed.PollInterval);
        }
    }

    /// <summary>
    /// Moves the clock by <paramref name="total"/> half a second at a time, letting the engines' heartbeats go out between
    /// steps. One leap of the whole span made the holder look silent for longer than the presence timeout (its heartbeat
    /// for the new time had not gone out yet), so the waiting engine could read it as gone and report the link as running
    /// nowhere: a state a real clock, which moves while heartbeats flow, does not show.
    /// </summary>
    private async Task AdvanceWhileHeardAsync(TimeSpan total)
    {
        for (var moved = TimeSpan.Zero; moved < total; moved += TimeSpan.FromMilliseconds(500))
        {
            _time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.Delay(Testbed.PollInterval);
        }
    }

    private async Task PublishAsync(int from, int to)
    {
        var app = await _bed.ConnectAsync("U");
        for (var i = from; i <= to; i++)
        {
            await Testbed.PublishAsync(app, "upstream", "k", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static string[] Bodies(int from, int to) =>
        [.. Enumerable.Range(from, to - from + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private List<string> InternalExchangesOnUpstream() =>
        [.. _bed.Broker("U").GetExchangeNames("/").Where(n => n.StartsWith(UpstreamQueue, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
}
