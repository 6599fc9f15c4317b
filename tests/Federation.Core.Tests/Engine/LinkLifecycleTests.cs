using Federation.Core.Hops;
using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>Reconfiguration, cleanup, status, reconnects and ack modes (plugin checklist items 5, 13-16).</summary>
public sealed class LinkLifecycleTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    private static FederationOptions Options(string downstream = "D") => new() { Downstream = { Uri = Testbed.Uri(downstream) } };

    [Fact]
    public async Task Dynamic_reconfiguration_restarts_only_changed_links()
    {
        _bed.Broker("U2");
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("localhost", "U").Upstream("local5673", "missing-bunny").Policy("all", "^all\\.", set: "all"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "all.fed1");
        await Testbed.DeclareExchangeAsync(app, "all.fed2");
        await Testbed.Eventually(() => engine.GetLinks().Count == 4, () => $"{engine.GetLinks().Count} links");

        // Clearing both upstreams: no links.
        await engine.UpdateAsync(Options().Policy("all", "^all\\.", set: "all"), CancellationToken.None);
        Assert.Empty(engine.GetLinks());

        // Re-adding localhost: one link per exchange.
        await engine.UpdateAsync(Options().Upstream("localhost", "U").Policy("all", "^all\\.", set: "all"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        var since = engine.GetLinks().ToDictionary(l => l.Id, l => l.Since);

        // Setting the same value again does nothing (the no-restart optimisation).
        await engine.UpdateAsync(Options().Upstream("localhost", "U").Policy("all", "^all\\.", set: "all"), CancellationToken.None);
        Assert.All(engine.GetLinks(), l => Assert.Equal(since[l.Id], l.Since));

        // Changing its URI restarts both links, which keep their ids.
        await engine.UpdateAsync(Options().Upstream("localhost", "U2").Policy("all", "^all\\.", set: "all"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        Assert.Equal(since.Keys.Order(), engine.GetLinks().Select(l => l.Id).Order());
        Assert.All(engine.GetLinks(), l => Assert.Equal("memory://U2/%2F", l.Uri));
    }

    [Fact]
    public async Task A_link_a_reload_replaces_goes_on_with_its_drop_counts_and_one_it_removes_takes_them_along()
    {
        // X and Y federate from each other (max-hops far from reached): a message published on X comes back to X's link
        // from Y, which drops it as a cycle.
        var x = await _bed.StartEngineAsync("X", o => o.Upstream("from-y", "Y", u => u.MaxHops = 10).Policy("fed", "^fed\\.kept$", upstream: "from-y"));
        await _bed.StartEngineAsync("Y", o => o.Upstream("from-x", "X", u => u.MaxHops = 10).Policy("fed", "^fed\\.kept$", upstream: "from-x"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("X"), "fed.kept");
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("Y"), "fed.kept");
        var onX = await _bed.BindQueueAsync("X", "fed.kept", "key");
        await _bed.BindQueueAsync("Y", "fed.kept", "key");
        await _bed.WaitForBindingsAsync("X", "fed.kept", "key", 2);
        await _bed.WaitForBindingsAsync("Y", "fed.kept", "key", 2);
        await Testbed.PublishAsync(await _bed.ConnectAsync("X"), "fed.kept", "key", "round-trip");
        await onX.ExpectAsync("round-trip");
        await Testbed.Eventually(() => x.GetLinks() is [{ DroppedMessages: { } d }] && d.GetValueOrDefault("cycle") == 1, () => "the cycle drop counted");
        var before = x.GetLinks()[0];

        // A new prefetch: the link is replaced (new run, same id) and its status still shows what it dropped.
        await x.UpdateAsync(Options("X").Upstream("from-y", "Y", u => { u.MaxHops = 10; u.PrefetchCount = 10; }).Policy("fed", "^fed\\.kept$", upstream: "from-y"), CancellationToken.None);
        await Testbed.Eventually(() => x.GetLinks() is [{ State: LinkState.Running } l] && l.Since != before.Since, () => "the replaced link running");
        var replaced = Assert.Single(x.GetLinks());
        Assert.Equal(before.Id, replaced.Id);
        Assert.Equal(new Dictionary<string, long> { ["cycle"] = 1 }, replaced.DroppedMessages);

        // Removed by one reload and brought back by the next: a new link, counting from none.
        await x.UpdateAsync(Options("X").Upstream("from-y", "Y", u => u.MaxHops = 10), CancellationToken.None);
        Assert.Empty(x.GetLinks());
        await x.UpdateAsync(Options("X").Upstream("from-y", "Y", u => u.MaxHops = 10).Policy("fed", "^fed\\.kept$", upstream: "from-y"), CancellationToken.None);
        await Testbed.Eventually(() => x.GetLinks() is [{ State: LinkState.Running }], () => "the link back");
        Assert.Null(x.GetLinks()[0].DroppedMessages);
    }

    [Fact]
    public async Task The_generation_memory_keeps_a_replaced_link_and_forgets_a_removed_one()
    {
        // One entry per link id ever run used to stay for the process's life.
        var (engine, _) = await _bed.StartSimpleLinkAsync();
        var id = Assert.Single(engine.GetLinks()).Id;
        Assert.True(engine.LinkGenerations.TryRecall(id, out _));

        // Replaced (same id, new run): its next session still swaps from what it used.
        await engine.UpdateAsync(Options().Upstream("u", "U", u => { u.Exchange = "upstream"; u.PrefetchCount = 10; }).Policy("fed", "^fed\\.", upstream: "u"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.True(engine.LinkGenerations.TryRecall(id, out _));

        // Removed: forgotten with it.
        await engine.UpdateAsync(Options().Upstream("u", "U", u => u.Exchange = "upstream"), CancellationToken.None);
        Assert.Empty(engine.GetLinks());
        Assert.False(engine.LinkGenerations.TryRecall(id, out _));
        Assert.Equal(0, engine.LinkGenerations.Count);
    }

    [Fact]
    public async Task A_reload_that_changes_only_the_downstream_credentials_keeps_the_links_drop_counts()
    {
        // As above: X's link drops its own message coming back from Y as a cycle.
        var x = await _bed.StartEngineAsync("X", o => o.Upstream("from-y", "Y", u => u.MaxHops = 10).Policy("fed", "^fed\\.kept$", upstream: "from-y"));
        await _bed.StartEngineAsync("Y", o => o.Upstream("from-x", "X", u => u.MaxHops = 10).Policy("fed", "^fed\\.kept$", upstream: "from-x"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("X"), "fed.kept");
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("Y"), "fed.kept");
        var onX = await _bed.BindQueueAsync("X", "fed.kept", "key");
        await _bed.BindQueueAsync("Y", "fed.kept", "key");
        await _bed.WaitForBindingsAsync("X", "fed.kept", "key", 2);
        await _bed.WaitForBindingsAsync("Y", "fed.kept", "key", 2);
        await Testbed.PublishAsync(await _bed.ConnectAsync("X"), "fed.kept", "key", "round-trip");
        await onX.ExpectAsync("round-trip");
        await Testbed.Eventually(() => x.GetLinks() is [{ DroppedMessages: { } d }] && d.GetValueOrDefault("cycle") == 1, () => "the cycle drop counted");
        var before = x.GetLinks()[0];

        // A rotated downstream password: the link restarts on the new connection under the same id, with its counts.
        var rotated = Options("X").Upstream("from-y", "Y", u => u.MaxHops = 10).Policy("fed", "^fed\\.kept$", upstream: "from-y");
        rotated.Downstream.Uri = Testbed.Uri("X").Replace("memory://", "memory://rotated:secret@", StringComparison.Ordinal);
        await x.UpdateAsync(rotated, CancellationToken.None);
        await Testbed.Eventually(() => x.GetLinks() is [{ State: LinkState.Running } l] && l.Since != before.Since, () => "the restarted link running");
        var restarted = Assert.Single(x.GetLinks());
        Assert.Equal(before.Id, restarted.Id);
        Assert.Equal(new Dictionary<string, long> { ["cycle"] = 1 }, restarted.DroppedMessages);
    }

    [Fact]
    public async Task Changing_one_upstream_leaves_the_other_exchanges_links_untouched()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("a", "A").Upstream("b", "B").Policy("pa", "^a\\.", upstream: "a").Policy("pb", "^b\\.", upstream: "b"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "a.x");
        await Testbed.DeclareExchangeAsync(app, "b.x");
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        var before = engine.GetLinks().Single(l => l.Upstream == "b");

        await engine.UpdateAsync(Options().Upstream("a", "A", u => u.PrefetchCount = 10).Upstream("b", "B").Policy("pa", "^a\\.", upstream: "a").Policy("pb", "^b\\.", upstream: "b"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        Assert.Equal(before, engine.GetLinks().Single(l => l.Upstream == "b"));
    }

    [Fact]
    public async Task Dynamic_reconfiguration_integrity_missing_set_then_created()
    {
        // The plugin accepts a policy naming a set that does not exist yet; here it is refused, at start and on update,
        // so that a typo can never stop running links. Creating the set and the policy together works.
        _bed.Broker("U2");
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("localhost", "U"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "new.one");
        await Testbed.DeclareExchangeAsync(app, "new.two");
        await Testbed.Eventually(() => engine.IsDownstreamConnected, () => "downstream connected");
        var refused = await Assert.ThrowsAsync<FederationConfigurationException>(() =>
            engine.UpdateAsync(Options().Upstream("localhost", "U").Policy("new", "^new\\.", set: "new-set"), CancellationToken.None));
        Assert.Contains("Policies:new:definition:federation-upstream-set: 'new-set' names no defined upstream set", refused.Message, StringComparison.Ordinal);
        Assert.Empty(engine.GetLinks());

        var withSet = Options().Upstream("localhost", "U").Set("new-set", Fixture.Element("localhost")).Policy("new", "^new\\.", set: "new-set");
        await engine.UpdateAsync(withSet, CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 2);

        // Adding a non-existent upstream to the set is refused and changes nothing.
        var withGhost = Options().Upstream("localhost", "U").Set("new-set", Fixture.Element("localhost"), Fixture.Element("ghost")).Policy("new", "^new\\.", set: "new-set");
        await Assert.ThrowsAsync<FederationConfigurationException>(() => engine.UpdateAsync(withGhost, CancellationToken.None));
        await Testbed.WaitForRunningLinksAsync(engine, 2);

        // Swapping the element changes the links.
        var swapped = Options().Upstream("localhost", "U").Upstream("other", "U2").Set("new-set", Fixture.Element("other")).Policy("new", "^new\\.", set: "new-set");
        await engine.UpdateAsync(swapped, CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        Assert.All(engine.GetLinks(), l => Assert.Equal("other", l.Upstream));
    }

    [Fact]
    public async Task Federate_unfederate_through_policies()
    {
        _bed.Broker("U2");
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("localhost", "U").Upstream("other", "U2"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "dyn.exch1");
        await Testbed.DeclareExchangeAsync(app, "dyn.exch2");
        await Testbed.Eventually(() => engine.IsDownstreamConnected, () => "downstream connected");
        Assert.Empty(engine.GetLinks());

        await engine.UpdateAsync(Options().Upstream("localhost", "U").Upstream("other", "U2").Policy("dyn", "^dyn\\.", set: "all"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 4);

        await engine.UpdateAsync(Options().Upstream("localhost", "U").Upstream("other", "U2").Set("localhost", Fixture.Element("localhost")).Policy("dyn", "^dyn\\.", set: "localhost"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 2);

        // A higher-priority policy without federation keys shadows the federation policy: no merging.
        var shadowed = Options().Upstream("localhost", "U").Policy("dyn", "^dyn\\.", set: "all").Policy("limits", "^dyn\\.", priority: 5);
        shadowed.Policies["limits"].Definition.OtherKeys["max-length"] = "10";
        await engine.UpdateAsync(shadowed, CancellationToken.None);
        Assert.Empty(engine.GetLinks());

        await engine.UpdateAsync(Options().Upstream("localhost", "U"), CancellationToken.None);
        Assert.Empty(engine.GetLinks());
    }

    [Fact]
    public async Task Clearing_the_policy_deletes_the_upstream_queue_and_internal_exchange()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Contains(_bed.Broker("U").GetQueueNames("/"), n => n.StartsWith("federation: ", StringComparison.Ordinal));
        Assert.Contains(_bed.Broker("U").GetExchangeNames("/"), n => n.StartsWith("federation: ", StringComparison.Ordinal));

        await engine.UpdateAsync(Options().Upstream("u", "U", u => u.Exchange = "upstream"), CancellationToken.None);
        Assert.Empty(engine.GetLinks());
        Assert.DoesNotContain(_bed.Broker("U").GetQueueNames("/"), n => n.StartsWith("federation: ", StringComparison.Ordinal));
        Assert.DoesNotContain(_bed.Broker("U").GetExchangeNames("/"), n => n.StartsWith("federation: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Cleanup_mode_never_keeps_the_buffer_and_delivers_it_after_the_link_returns()
    {
        static FederationOptions Configure(FederationOptions o, bool federated)
        {
            o.Upstream("u", "U", u => { u.Exchange = "upstream"; u.ResourceCleanupMode = ResourceCleanupMode.Never; });
            return federated ? o.Policy("fed", "^fed\\.", upstream: "u") : o;
        }

        var engine = await _bed.StartEngineAsync("D", o => Configure(o, true));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        await engine.UpdateAsync(Configure(Options(), false), CancellationToken.None);
        Assert.Empty(engine.GetLinks());
        const string UpstreamQueue = "federation: upstream -> D:fed.downstream";
        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue));

        // Published while the link is away: buffered upstream, delivered once it is back.
        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "BUFFERED");
        Assert.Equal(1, _bed.Broker("U").GetMessageCount("/", UpstreamQueue));
        await engine.UpdateAsync(Configure(Options(), true), CancellationToken.None);
        await queue.ExpectAsync("BUFFERED");
    }

    [Fact]
    public async Task Status_reports_running_and_error_links_with_stable_ids_and_restart_by_id()
    {
        var engine = await _bed.StartEngineAsync("D", o => o
            .Upstream("localhost", "U")
            .Upstream("broken-bunny", "missing-bunny", u => u.ReconnectDelaySeconds = 600)
            .Set("upstream", Fixture.Element("broken-bunny"), Fixture.Element("localhost"))
            .Policy("fed", "^fed1\\.", set: "upstream"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed1.downstream");
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ Upstream: "broken-bunny", State: LinkState.Error }, { Upstream: "localhost", State: LinkState.Running }],
            () => string.Join(", ", engine.GetLinks().Select(l => $"{l.Upstream}:{l.State}")));

        var links = engine.GetLinks();
        var broken = links[0];
        Assert.Contains("missing-bunny", broken.Error, StringComparison.Ordinal);
        Assert.Equal("fed1.downstream", broken.Exchange);
        Assert.Equal("fed1.downstream", broken.UpstreamExchange);
        Assert.Matches("^[0-9a-f]{8}$", broken.Id);
        var running = links[1];
        Assert.Equal("Federation link (upstream: localhost, policy: fed)", running.LocalConnection);
        Assert.Contains("Federation link (upstream: localhost, policy: fed)", _bed.Broker("U").ConnectionNames);

        Assert.Equal(running, engine.FindLink(running.Id));
        Assert.Null(engine.FindLink("00000000"));
        Assert.False(await engine.RestartLinkAsync("00000000", CancellationToken.None));

        Assert.True(await engine.RestartLinkAsync(running.Id, CancellationToken.None));
        await Testbed.Eventually(() => engine.FindLink(running.Id) is { State: LinkState.Running } l && l.Since > running.Since, () => "restarted");
    }

    [Fact]
    public async Task Reconnect_is_immediate_first_then_waits_reconnect_delay()
    {
        var time = new FakeTimeProvider();
        var broker = _bed.Broker("U");
        // The plugin's fixed pace; the exponential default is covered in DeadlineTests and ReconnectBackoffTests.
        var options = Options().Upstream("u", "U", u =>
        {
            u.ReconnectDelaySeconds = 30;
            u.ReconnectBackoff = ReconnectBackoffMode.Fixed;
        }).Policy("fed", "^fed$", upstream: "u");
        _bed.Broker("D");
        await using var engine = new FederationEngine(options, [_bed.Transport], timeProvider: time);
        await engine.StartAsync(CancellationToken.None);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        // A running link that fails reconnects at once, without the clock moving.
        broker.DropConnections();
        await Testbed.Eventually(() => broker.ConnectionNames.Any(n => n.StartsWith("Federation link", StringComparison.Ordinal)) && engine.GetLinks()[0].State == LinkState.Running, () => "immediate reconnect");

        // Failing again and again: the second attempt waits for reconnect-delay.
        broker.Stop();
        await Testbed.Eventually(() => engine.GetLinks()[0] is { State: LinkState.Error } && time.PendingTimers > 0, () => "waiting for the delay");
        broker.Start();
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(LinkState.Error, engine.GetLinks()[0].State);
        time.Advance(TimeSpan.FromSeconds(1));
        await Testbed.WaitForRunningLinksAsync(engine, 1);
    }

    [Fact]
    public async Task Several_uris_rotate_so_a_broken_one_does_not_block_the_link()
    {
        var engine = await _bed.StartEngineAsync("D", o => o
            .Upstream("u", "U", u => { u.Uris.Insert(0, "memory://missing-broker/%2f"); u.ReconnectDelaySeconds = 0.1; })
            .Policy("fed", "^fed$", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Equal("memory://U/%2F", engine.GetLinks()[0].Uri);

        // Killing the connection repeatedly shows each URI in status over time.
        var seen = new HashSet<string>();
        await Testbed.Eventually(() =>
        {
            seen.Add(engine.GetLinks()[0].Uri);
            if (engine.GetLinks()[0].State == LinkState.Running)
            {
                _bed.Broker("U").DropConnections();
            }

            return seen.Count == 2;
        }, () => string.Join(", ", seen));
        Assert.Contains("memory://missing-broker/%2f", seen);
    }

    [Fact]
    public async Task On_confirm_loses_nothing_when_the_downstream_refuses_publishes()
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => { u.ReconnectDelaySeconds = 0.1; });

        // The downstream nacks some forwards and drops the connection on others; the upstream keeps them until confirmed.
        // Two drops, not more: a downstream connection that drops at once counts as a flap, so the second reconnect waits
        // the downstream's backoff (5 s, then 7.5 s and more), which is real time here.
        const int Refusals = 4;
        var refused = 0;
        _bed.Broker("D").PublishInterceptor = context =>
        {
            if (context.Exchange != "fed.downstream" || Interlocked.Increment(ref refused) > Refusals)
            {
                return PublishOutcome.Accept;
            }

            return refused % 2 == 0 ? PublishOutcome.Nack : PublishOutcome.DropConnection;
        };

        var publisher = await _bed.ConnectAsync("U");
        var expected = Enumerable.Range(0, 50).Select(i => $"m{i}").ToArray();
        foreach (var body in expected)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", body);
        }

        // The backoff's 5 s plus jitter, with room for a loaded machine.
        await Testbed.Eventually(() => queue.Bodies.Distinct().Count() == expected.Length, () => $"{queue.Bodies.Distinct().Count()} distinct of {expected.Length}", TimeSpan.FromSeconds(40));
        Assert.Equal(expected.Order(StringComparer.Ordinal), queue.Bodies.Distinct().Order(StringComparer.Ordinal));
        Assert.True(refused > Refusals);
    }

    [Theory]
    [InlineData(AckMode.OnConfirm)]
    [InlineData(AckMode.OnPublish)]
    [InlineData(AckMode.NoAck)]
    public async Task Every_ack_mode_keeps_per_link_order(AckMode mode)
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => u.AckMode = mode);
        var publisher = await _bed.ConnectAsync("U");
        var expected = Enumerable.Range(0, 50).Select(i => $"m{i}").ToArray();
        foreach (var body in expected)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", body);
        }

        await Testbed.Eventually(() => queue.Count == expected.Length, () => $"{queue.Count} of {expected.Length}");
        Assert.Equal(expected, queue.Bodies);
    }

    [Theory]
    [InlineData(AckMode.OnConfirm, false)]
    [InlineData(AckMode.OnPublish, false)]
    [InlineData(AckMode.NoAck, true)]
    public async Task A_failing_downstream_loses_messages_only_in_no_ack_mode(AckMode mode, bool loses)
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = mode; u.ReconnectDelaySeconds = 0.1; });
        const string UpstreamQueue = "federation: upstream -> D:fed.downstream";

        // The downstream drops the link's connection on every forward: nothing gets through while this holds.
        var refused = 0;
        _bed.Broker("D").PublishInterceptor = context =>
        {
            if (context.Exchange != "fed.downstream")
            {
                return PublishOutcome.Accept;
            }

            Interlocked.Increment(ref refused);
            return PublishOutcome.DropConnection;
        };
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < 20; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        // At least one forward has been refused: no-ack had already taken it off the upstream queue, the others had not.
        await Testbed.Eventually(() => Volatile.Read(ref refused) > 0, () => "a refused forward");

        _bed.Broker("D").PublishInterceptor = null;
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", UpstreamQueue) == 0, () => "upstream queue drained");
        await queue.ExpectNoMoreThanAsync(20);
        if (loses)
        {
            Assert.True(queue.Bodies.Distinct().Count() < 20, "no-ack should have lost the messages in flight");
        }
        else
        {
            await Testbed.Eventually(() => queue.Bodies.Distinct().Count() == 20, () => $"{queue.Bodies.Distinct().Count()} distinct of 20");
        }
    }

    [Fact]
    public async Task Deleting_the_federated_exchange_stops_its_links_and_cleans_up()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed");
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        await app.DeleteExchangeAsync("fed", CancellationToken.None);
        await Testbed.Eventually(() => engine.GetLinks().Count == 0, () => "link removed");
        await Testbed.Eventually(() => !_bed.Broker("U").GetQueueNames("/").Any(n => n.StartsWith("federation: ", StringComparison.Ordinal)), () => "upstream queue deleted");
    }

    [Fact]
    public async Task A_link_gone_for_good_deletes_its_downstream_ledger_as_does_one_whose_queue_a_renamed_upstream_takes_over()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var first = $"federation: fed <- u ledger {engine.GetLinks()[0].Id}";
        Assert.True(_bed.Broker("D").LedgerExists("/", first));

        // Renamed: the new link (another id, its own ledger) takes the upstream queue over; the old ledger would stay for good.
        await engine.UpdateAsync(Options().Upstream("u2", "U").Policy("fed", "^fed$", upstream: "u2"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var second = $"federation: fed <- u2 ledger {engine.GetLinks()[0].Id}";
        Assert.NotEqual(first, second);
        Assert.False(_bed.Broker("D").LedgerExists("/", first), "the old link's ledger stayed");
        Assert.True(_bed.Broker("D").LedgerExists("/", second));

        // Removed: its upstream queue goes, and its ledger with it.
        await engine.UpdateAsync(Options().Upstream("u2", "U"), CancellationToken.None);
        Assert.Empty(engine.GetLinks());
        Assert.False(_bed.Broker("D").LedgerExists("/", second), "the removed link's ledger stayed");
    }

    [Fact]
    public async Task Default_and_internal_exchanges_are_never_federated()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("everything", ".*", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await app.DeclareExchangeAsync(new ExchangeSpec("hidden", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
        await Testbed.DeclareExchangeAsync(app, "visible");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Equal("visible", engine.GetLinks()[0].Exchange);
    }

    [Fact]
    public async Task The_internal_exchange_is_a_fanout_and_the_link_drops_messages_beyond_max_hops()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        var queue = await _bed.BindQueueAsync("D", "fed", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "fed", "key", 1);
        Assert.Equal(ExchangeSpec.Types.Fanout, _bed.Broker("U").GetExchange("/", "federation: fed -> D B")!.Type);

        // A message that already made one hop reaches the upstream queue; the link drops it (max-hops 1) and acks it upstream.
        var properties = new MessageProperties();
        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, new ReceivedFromEntry("memory://X/%2F", "fed", false, "X", "/"));
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "fed", "key", "TOO-FAR", properties);
        await Testbed.PublishAsync(publisher, "fed", "key", "OK");
        await queue.ExpectAsync("OK");
        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", "federation: fed -> D") == 0, () => "dropped message acked upstream");
    }

    [Fact]
    public async Task A_lost_topology_change_is_recovered_by_a_snapshot_resync()
    {
        // The downstream feed loses the first "bind key-b" event; later events wait behind the gap until the resync.
        var lost = 0;
        var lossy = new LossyTopologyTransport(_bed.Transport, change =>
            change.Binding?.RoutingKey == "key-b" && change.Kind == TopologyChangeKind.BindingAdded && Interlocked.Exchange(ref lost, 1) == 0);
        _bed.Broker("U");
        _bed.Broker("D");
        var options = Options().Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u");
        await using var engine = new FederationEngine(options, [lossy]);
        await engine.StartAsync(CancellationToken.None);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        await _bed.BindQueueAsync("D", "fed.downstream", "key-b");
        await _bed.BindQueueAsync("D", "fed.downstream", "key-c");
        await _bed.WaitForBindingsAsync("U", "upstream", "key-b", 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key-c", 1);
        Assert.Equal(1, lost);
    }

    [Fact]
    public async Task A_link_whose_internal_exchange_vanished_restarts_at_the_next_periodic_check()
    {
        var time = new FakeTimeProvider();
        _bed.Broker("U");
        _bed.Broker("D");
        var options = Options().Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u");
        await using var engine = new FederationEngine(options, [_bed.Transport], timeProvider: time);
        await engine.StartAsync(CancellationToken.None);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        // Somebody deletes the internal exchange upstream: the binding goes with it, and nothing is captured any more.
        var upstream = await _bed.ConnectAsync("U");
        var internalExchange = _bed.Broker("U").GetExchangeNames("/").Single(n => n.StartsWith("federation: ", StringComparison.Ordinal) && !n.EndsWith(" sentinel", StringComparison.Ordinal));
        await upstream.DeleteExchangeAsync(internalExchange, CancellationToken.None);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 0);
        Assert.Equal(LinkState.Running, engine.GetLinks()[0].State);

        // The periodic check notices, the link restarts with a new generation and the binding is back.
        await Testbed.Eventually(() => time.PendingTimers > 0, () => "check armed");
        time.Advance(LinkSession.InternalExchangeCheckInterval);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await Testbed.PublishAsync(upstream, "upstream", "key", "CAPTURED");
        await queue.ExpectAsync("CAPTURED");
    }

    [Fact]
    public async Task Changing_the_downstream_uri_at_runtime_moves_federation_to_the_new_downstream()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D2"), "fed");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Equal("D", engine.ClusterName);

        await engine.UpdateAsync(Options("D2").Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Equal("D2", engine.ClusterName);
        Assert.True(_bed.Broker("U").QueueExists("/", "federation: fed -> D2"));

        // The old queue stays bound until the new link's queue is (make before break), and goes only then, after the new
        // link may already be running.
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", "federation: fed -> D"), () => "the old downstream's upstream queue deleted");
    }
}
