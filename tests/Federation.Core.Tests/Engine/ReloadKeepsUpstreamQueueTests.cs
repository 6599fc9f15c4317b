using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A reload that changes how a link moves messages (prefetch-count, the URI's query or credentials, ...) replaces the link
/// with one of the same id and the same upstream queue. The replacement takes the queue over with what it buffers: before,
/// the old link stopped with cleanup and deleted it, so what it held was lost without a word. A change of the queue's
/// declared arguments (message-ttl, expires, queue-type), which the upstream refuses for the existing queue, hands it over
/// to one declared anew, forwarding what it holds (see UpstreamQueueHandoverTests).
/// </summary>
public sealed class ReloadKeepsUpstreamQueueTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private HeldConfirmsTransport? _transport;
    private BeforeQueueDeletionTransport? _deletions;
    private AddressAliasTransport? _aliases;
    private string _bufferingQueue = UpstreamQueue;

    public Task InitializeAsync()
    {
        // Confirms are held so that, with prefetch-count 1, messages stay buffered in the upstream queue. A downstream URI
        // may name its cluster (?cluster-name=, as on NATS).
        // An upstream may be reached under a second address (memory://alias-of-U), as a host name is for its IP address.
        _bed.WrapTransport = inner => _aliases = new AddressAliasTransport(new QueueKindTransport(new UriClusterNameTransport(_transport = new HeldConfirmsTransport(_deletions = new BeforeQueueDeletionTransport(inner)))));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        ReleaseHeld();
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(Action<UpstreamDefinition> configure, string upstreamName = "u") =>
        new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream(upstreamName, "U", u =>
            {
                u.Exchange = "upstream";
                u.PrefetchCount = 1;
                configure(u);
            })
            .Policy("fed", "^fed\\.", upstream: upstreamName);

    public static TheoryData<string, Action<UpstreamDefinition>> ChangesThatKeepTheQueue => new()
    {
        { "prefetch-count 1 -> 2", u => u.PrefetchCount = 2 },
        { "credentials in the URI", u => u.Uris = [Testbed.Uri("U").Replace("memory://", "memory://rotated:secret@", StringComparison.Ordinal)] },
        { "ack-mode on-confirm -> on-publish", u => u.AckMode = AckMode.OnPublish },
    };

    [Theory]
    [MemberData(nameof(ChangesThatKeepTheQueue))]
    public async Task A_reload_that_replaces_a_link_keeps_what_its_upstream_queue_buffers(string change, Action<UpstreamDefinition> reconfigure)
    {
        var (engine, downstream) = await StartBufferingAsync();
        var before = Assert.Single(engine.GetLinks());

        // Nothing is released until the old link has stopped: its in-flight message goes back to the upstream queue.
        await engine.UpdateAsync(Configuration(reconfigure), CancellationToken.None);

        // (The replacement may be consuming already: how many are ready upstream is not fixed here.)
        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), $"{change}: the upstream queue was deleted");
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.DoesNotContain("NATS", Assert.Single(_logs.WithId(2018)).Message, StringComparison.Ordinal); // the caveat is for transports that keep no queue on the broker

        // Each confirm is released as its publish comes.
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return downstream.Bodies.Distinct().Count() == 3;
            },
            () => $"{change}: downstream has [{string.Join(",", downstream.Bodies)}], {UpstreamMessages} left upstream");
        var after = Assert.Single(engine.GetLinks());
        Assert.Equal(before.Id, after.Id);
        Assert.NotEqual(before.Since, after.Since);
        Assert.Equal(["m0", "m1", "m2"], downstream.Bodies.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_reload_that_changes_the_queue_arguments_hands_the_queue_over_to_one_declared_anew_with_what_it_buffers()
    {
        var (engine, downstream) = await StartBufferingAsync();

        await engine.UpdateAsync(Configuration(u => u.MessageTtl = 60_000), CancellationToken.None);

        // The upstream refuses the old queue with the new argument: the new run forwards what it holds, deletes it and
        // declares it anew. Until 7 Dec 2026 the reload deleted it, discarding m1 and m2 (events 2020 and 1028).
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return downstream.Bodies.Distinct().Count() == 3 && _logs.WithId(1036).Count == 1;
            },
            () => $"downstream has [{string.Join(",", downstream.Bodies)}]; links: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}");
        Assert.Equal(["m0", "m1", "m2"], downstream.Bodies.Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(60_000L, Convert.ToInt64(_bed.Broker("U").GetQueue("/", UpstreamQueue)!.Arguments!["x-message-ttl"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue + " (handover)"));
        var why = Assert.Single(_logs.WithId(2043));
        Assert.Equal(LogLevel.Information, why.Level);
        Assert.Contains("x-message-ttl none -> 60000", why.Message, StringComparison.Ordinal);
        Assert.Matches("holding [23] message", Assert.Single(_logs.WithId(1035)).Message); // m1 and m2, and m0 once the old consumer's close returned it
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task A_reload_that_moves_the_link_to_another_broker_deletes_the_queue_it_leaves_behind_and_says_so()
    {
        _bed.Broker("U2");
        var (engine, _) = await StartBufferingAsync();

        await engine.UpdateAsync(Configuration(u => u.Uris = [Testbed.Uri("U2")]), CancellationToken.None);

        // Nobody would consume the queue on U any more, and it would fill up for good.
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue));
        Assert.Contains("reaches another upstream", Assert.Single(_logs.WithId(2020)).Message, StringComparison.Ordinal);
        Assert.Single(_logs.WithId(1028));
        ReleaseHeld();
        await Testbed.Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }] && _bed.Broker("U2").QueueExists("/", UpstreamQueue), () => "the link running against U2");
    }

    [Fact]
    public async Task A_reload_to_another_address_of_the_same_upstream_broker_keeps_what_its_upstream_queue_buffers()
    {
        var (engine, downstream) = await StartBufferingAsync();

        // Nothing in the text tells that alias-of-U is U: both name themselves cluster U, vhost /, once connected. Before,
        // this read as a move to another broker, and the queue the new run was about to consume was deleted with m1 and m2.
        await engine.UpdateAsync(Configuration(u => u.Uris = ["memory://alias-of-U/%2F"]), CancellationToken.None);

        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted");
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
        Assert.Contains("same upstream cluster ('U', vhost '/'", Assert.Single(_logs.WithId(2018)).Message, StringComparison.Ordinal);
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return downstream.Bodies.Distinct().Count() == 3;
            },
            () => $"downstream has [{string.Join(",", downstream.Bodies)}], {UpstreamMessages} left upstream");
        Assert.Equal(["m0", "m1", "m2"], downstream.Bodies.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_reload_to_another_address_of_the_same_upstream_broker_that_also_changes_the_kind_of_upstream_queue_deletes_the_old_queue()
    {
        // NATS: jetstream=true taken off together with a host name for the server's address. Both name cluster U, but the
        // new kind of queue cannot take the old one over: it was kept (2018), and the durable consumer stayed behind.
        var (engine, _) = await StartBufferingAsync();

        await engine.UpdateAsync(Configuration(u => u.Uris = ["memory://kindb:secret@alias-of-U/%2F"]), CancellationToken.None);

        var upstream = _bed.Broker("U");
        Assert.True(!upstream.QueueExists("/", UpstreamQueue) || upstream.GetMessageCount("/", UpstreamQueue) == 0, "the old kind's queue was left behind");
        Assert.Empty(_logs.WithId(2018));
        var why = Assert.Single(_logs.WithId(2020));
        Assert.Contains("declares another kind of upstream queue (the transport's only kind -> kind B)", why.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", why.Message, StringComparison.Ordinal);
        Assert.Single(_logs.WithId(1028));
        ReleaseHeld();
        await Testbed.Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }] && upstream.QueueExists("/", UpstreamQueue), () => "the link running with a new queue");
    }

    [Fact]
    public async Task A_reload_whose_cluster_probe_fails_with_an_exception_no_transport_maps_still_stops_the_old_link_and_starts_the_new_one()
    {
        // Not a TransportException: the probe's connect escaped, the reload failed, and the old link, already dropped from
        // the engine's links, went on running unseen, never to be stopped.
        var (engine, _) = await StartBufferingAsync();

        await engine.UpdateAsync(Configuration(u => u.Uris = ["memory://unmapped-error-alias-of-U/%2F"]), CancellationToken.None);

        // It cannot tell: as for another broker (before these probes), the old queue goes, and says so.
        Assert.Contains("reaches another upstream", Assert.Single(_logs.WithId(2020)).Message, StringComparison.Ordinal);
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue) && _bed.Broker("U").GetMessageCount("/", UpstreamQueue) > 0, "the old queue was kept");
        var link = Assert.Single(engine.GetLinks());
        Assert.Contains("unmapped-error-alias-of-U", link.Uri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stop_during_the_cluster_probe_of_a_reload_cancels_the_probe_and_keeps_the_queue()
    {
        // The new address drops every packet: the probe's connect never answers. On the engine's fake clock, which the test
        // does not move, the probe's own 10 s never pass: only the stop can end it. Before, the probe took no token, and
        // the stop waited behind the reload until the probe's 10 s had passed (here: for ever).
        var time = new FakeTimeProvider();
        var (engine, downstream) = await StartBufferingAsync(time);
        var reload = engine.UpdateAsync(Configuration(u => u.Uris = ["memory://black-hole-alias-of-U/%2F"]), CancellationToken.None);
        await Testbed.Eventually(() => _aliases!.BlackHoled == 1, () => $"{_aliases!.BlackHoled} connect(s) waiting on the black hole");

        var stopping = engine.StopAsync(CancellationToken.None);

        // The held confirm is released as it comes, so that the old link's stop does not wait a (fake) drain timeout for it.
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return stopping.IsCompleted && reload.IsCompleted;
            },
            () => $"stop completed: {stopping.IsCompleted}, reload completed: {reload.IsCompleted}, {_aliases!.BlackHoled} connect(s) waiting");
        await stopping;
        await reload;

        // A stop is no evidence of a move: the queue stays, with what the old link (which ran on during the probe) did not
        // forward.
        Assert.Equal(0, _aliases!.BlackHoled);
        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted");
        Assert.True(downstream.Bodies.Distinct().Count() + UpstreamMessages >= 3, $"downstream has [{string.Join(",", downstream.Bodies)}], {UpstreamMessages} left upstream");
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
        var probe = Assert.Single(_logs.WithId(2037));
        Assert.Contains("memory://black-hole-alias-of-U/%2F", probe.Message, StringComparison.Ordinal);
        Assert.Contains("cancelled: the engine stops", probe.Message, StringComparison.Ordinal);
        Assert.Contains("is kept", probe.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reload_that_moves_several_links_to_another_address_of_their_broker_probes_each_side_once_as_a_probe()
    {
        // Before, each of the three links opened its own probe connection to each side at once (six), under its own name.
        var engine = await StartThreeLinksAsync();

        await engine.UpdateAsync(Configuration(u => u.Uris = ["memory://alias-of-U/%2F"]), CancellationToken.None);

        var probes = _aliases!.Requests.Where(r => r.ConnectionName == UpstreamNaming.ProbeConnectionName).Select(r => r.Uri).Order(StringComparer.Ordinal);
        Assert.Equal(["memory://U/%2F", "memory://alias-of-U/%2F"], probes);
        Assert.Equal(3, _logs.WithId(2018).Count(e => e.Message.Contains("same upstream cluster ('U', vhost '/'", StringComparison.Ordinal)));
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(2037));
        await Testbed.WaitForRunningLinksAsync(engine, 3);
    }

    [Fact]
    public async Task A_cluster_probe_that_fails_is_logged_once_per_broker_with_its_reason_and_no_password()
    {
        // Three links move to a broker that does not answer (none is registered under that name), with credentials in its
        // URI. Before, nothing said why the old queues were deleted rather than kept.
        var engine = await StartThreeLinksAsync();

        await engine.UpdateAsync(Configuration(u => u.Uris = ["memory://prober:hunter2@missing-V/%2F"]), CancellationToken.None);

        var probe = Assert.Single(_logs.WithId(2037));
        Assert.Equal(LogLevel.Warning, probe.Level);
        Assert.Contains("upstream memory://missing-V/%2F reaches", probe.Message, StringComparison.Ordinal);
        Assert.Contains("No in-memory broker named 'missing-V'", probe.Message, StringComparison.Ordinal);
        Assert.Contains("is deleted as before", probe.Message, StringComparison.Ordinal);
        Assert.Equal(3, _logs.WithId(2020).Count(e => e.Message.Contains("reaches another upstream", StringComparison.Ordinal)));
        Assert.DoesNotContain(_logs.Entries, e => (e.Message + e.Exception).Contains("hunter2", StringComparison.Ordinal));
        Assert.Single(_aliases!.Requests, r => r.ConnectionName == UpstreamNaming.ProbeConnectionName && r.Uri.Contains("missing-V", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reload_that_keeps_the_broker_but_changes_the_kind_of_upstream_queue_deletes_the_old_queue_and_says_so()
    {
        // NATS: jetstream=true taken off. The durable consumer stayed behind, and a switch back reused it: it forwarded
        // again everything the core link had forwarded meanwhile.
        var (engine, _) = await StartBufferingAsync();

        await engine.UpdateAsync(Configuration(u => u.Uris = [Testbed.Uri("U").Replace("memory://", "memory://kindb:secret@", StringComparison.Ordinal)]), CancellationToken.None);

        // The new kind's queue has the same name on this test transport, and the new link may already have declared it
        // afresh: the old one's deletion shows in what it discarded, and in nothing of it being left.
        var upstream = _bed.Broker("U");
        Assert.True(!upstream.QueueExists("/", UpstreamQueue) || upstream.GetMessageCount("/", UpstreamQueue) == 0, "the old kind's queue was left behind");
        Assert.Empty(_logs.WithId(2018));
        var why = Assert.Single(_logs.WithId(2020));
        Assert.Contains("declares another kind of upstream queue (the transport's only kind -> kind B)", why.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", why.Message, StringComparison.Ordinal);
        var discarded = Assert.Single(_logs.WithId(1028));
        Assert.Equal(LogLevel.Warning, discarded.Level);
        Assert.True(
            discarded.Message.Contains("discards 2 message(s) it held", StringComparison.Ordinal) || discarded.Message.Contains("discards 3 message(s) it held", StringComparison.Ordinal),
            discarded.Message);
        ReleaseHeld();
        await Testbed.Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }] && _bed.Broker("U").QueueExists("/", UpstreamQueue), () => "the link running with a new queue");
    }

    [Fact]
    public async Task A_reload_that_changes_only_the_downstream_credentials_restarts_the_link_keeping_what_its_upstream_queue_buffers()
    {
        var (engine, downstream) = await StartBufferingAsync();
        var before = Assert.Single(engine.GetLinks());

        // A rotated downstream password reaches the same downstream: the link keeps its id and its upstream queue.
        var rotated = Configuration(_ => { });
        rotated.Downstream.Uri = Testbed.Uri("D").Replace("memory://", "memory://rotated:secret@", StringComparison.Ordinal);
        await engine.UpdateAsync(rotated, CancellationToken.None);

        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted");
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Single(_logs.WithId(2018));
        Assert.Empty(_logs.WithId(1028));
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return downstream.Bodies.Distinct().Count() == 3;
            },
            () => $"downstream has [{string.Join(",", downstream.Bodies)}], {UpstreamMessages} left upstream");
        var after = Assert.Single(engine.GetLinks());
        Assert.Equal(before.Id, after.Id);
        Assert.NotEqual(before.Since, after.Since);
        Assert.Equal(["m0", "m1", "m2"], downstream.Bodies.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_reload_to_another_downstream_address_whose_uri_tells_the_same_cluster_name_keeps_what_the_upstream_queue_buffers()
    {
        // The same downstream reached at another address, without Federation:ClusterName, and known by the same name before
        // connecting (what NATS' cluster-name in the URI does; here the second broker's registered name): the links have the
        // same ids and queues. The reload deleted the queue with what it held and declared it again, empty.
        var moved = _bed.Broker("D2");
        moved.ClusterName = _bed.Broker("D").ClusterName;
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D2"), "fed.downstream");
        var arrived = await _bed.BindQueueAsync("D2", "fed.downstream", "key");
        var (engine, _) = await StartBufferingAsync();
        var before = Assert.Single(engine.GetLinks());

        var readdressed = Configuration(_ => { });
        readdressed.Downstream.Uri = Testbed.Uri("D2");
        await engine.UpdateAsync(readdressed, CancellationToken.None);

        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted");
        Assert.Empty(_logs.WithId(1028));
        Assert.Empty(_logs.WithId(2020));
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                // m1 and m2 were buffered upstream; m0, forwarded to D before the reload, may come again (its confirm was held).
                return arrived.Bodies.Contains("m1") && arrived.Bodies.Contains("m2");
            },
            () => $"D2 has [{string.Join(",", arrived.Bodies)}], {UpstreamMessages} left upstream");
        var after = Assert.Single(engine.GetLinks());
        Assert.Equal(before.Id, after.Id);
    }

    [Fact]
    public async Task A_reload_that_changes_the_downstream_cluster_name_has_the_new_link_forward_what_the_old_queue_holds_then_deletes_it()
    {
        var (engine, downstream) = await StartBufferingAsync();
        var before = Assert.Single(engine.GetLinks());

        // The queue name carries the cluster name: the new link (another id) declares another queue. The old one stays bound
        // until the new one is (make before break), then the new link forwards what it holds (the same downstream broker,
        // vhost and exchange, so exactly what the new link forwards) and deletes it. Before, it was deleted as the old link
        // stopped, discarding what it held and what the upstream published until the new queue was bound.
        var renamed = Configuration(_ => { });
        renamed.ClusterName = "D2";
        await engine.UpdateAsync(renamed, CancellationToken.None);

        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the old queue was deleted before the new link bound its own");
        Assert.Contains("forwards what the old queue holds", Assert.Single(_logs.WithId(2032)).Message, StringComparison.Ordinal);
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                // Event 2033 is logged once the forwarding returns, after it deleted the queue: waited for as well.
                return engine.GetLinks() is [{ State: LinkState.Running }] && !_bed.Broker("U").QueueExists("/", UpstreamQueue)
                    && downstream.Bodies.Contains("m1") && downstream.Bodies.Contains("m2") && _logs.WithId(2033).Count > 0;
            },
            () => $"D has [{string.Join(",", downstream.Bodies)}]; old queue there: {_bed.Broker("U").QueueExists("/", UpstreamQueue)}");
        Assert.True(_bed.Broker("U").QueueExists("/", "federation: upstream -> D2:fed.downstream"), "the link runs under the new cluster name");
        Assert.NotEqual(before.Id, Assert.Single(engine.GetLinks()).Id);
        Assert.Contains(before.Id, Assert.Single(_logs.WithId(2033)).Message, StringComparison.Ordinal);
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
    }

    [Theory]
    [InlineData("another cluster-name", "?cluster-name=west")]
    [InlineData("the cluster-name taken off", "")]
    public async Task A_reload_that_changes_the_cluster_name_in_the_downstream_uri_forwards_the_old_queue_then_deletes_it(string change, string query)
    {
        // The same broker, no Federation:ClusterName, and the URI's own name (NATS cluster-name) changed: the links go by
        // another name, with other ids and queues. The reload took it for a new password: it kept the old queue for links
        // that never came back, so it stayed upstream, filling up, and nothing was logged.
        const string OldQueue = "federation: upstream -> east:fed.downstream";
        _bufferingQueue = OldQueue;
        var (engine, downstream) = await StartBufferingAsync(downstreamUri: Testbed.Uri("D") + "?cluster-name=east");
        var before = Assert.Single(engine.GetLinks());
        Assert.True(_bed.Broker("U").QueueExists("/", OldQueue), $"{change}: the link runs under the URI's name");

        var renamed = Configuration(_ => { });
        renamed.Downstream.Uri = Testbed.Uri("D") + query;
        await engine.UpdateAsync(renamed, CancellationToken.None);

        Assert.Empty(_logs.WithId(2018));
        Assert.Single(_logs.WithId(2032));
        var newName = query.Length == 0 ? "D" : "west";
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return engine.GetLinks() is [{ State: LinkState.Running }] && _bed.Broker("U").QueueExists("/", $"federation: upstream -> {newName}:fed.downstream")
                    && !_bed.Broker("U").QueueExists("/", OldQueue) && downstream.Bodies.Contains("m1") && downstream.Bodies.Contains("m2")
                    && _logs.WithId(2033).Count > 0; // logged once the forwarding returns, after it deleted the queue
            },
            () => $"{change}: the link running under '{newName}', the old queue forwarded ([{string.Join(",", downstream.Bodies)}]) and deleted ({!_bed.Broker("U").QueueExists("/", OldQueue)})");
        Assert.NotEqual(before.Id, Assert.Single(engine.GetLinks()).Id);
        Assert.Single(_logs.WithId(2033));
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
    }

    [Fact]
    public async Task A_reload_to_another_downstream_broker_deletes_the_old_queue_once_the_new_link_has_bound_its_own_and_says_how_many_messages_that_discards()
    {
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D2"), "fed.downstream");
        var (engine, _) = await StartBufferingAsync();

        var moved = Configuration(_ => { });
        moved.Downstream.Uri = Testbed.Uri("D2");
        await engine.UpdateAsync(moved, CancellationToken.None);

        // Another broker: what the old queue holds is not the new link's to forward. Still kept until the new queue is bound,
        // so that what is published meanwhile is counted when it goes, rather than reach no queue.
        Assert.Contains("it is deleted, discarding what it holds", Assert.Single(_logs.WithId(2032)).Message, StringComparison.Ordinal);
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return engine.GetLinks() is [{ State: LinkState.Running }] && !_bed.Broker("U").QueueExists("/", UpstreamQueue) && _logs.WithId(1028).Count == 1;
            },
            () => "the old queue deleted once the link runs on the new downstream");
        Assert.True(_bed.Broker("U").QueueExists("/", "federation: upstream -> D2:fed.downstream"));
        var why = Assert.Single(_logs.WithId(2020));
        Assert.Equal(LogLevel.Warning, why.Level);
        Assert.Contains("federates another downstream", why.Message, StringComparison.Ordinal);
        var discarded = Assert.Single(_logs.WithId(1028));
        Assert.Equal(LogLevel.Warning, discarded.Level);
        Assert.Contains("discards 3 message(s)", discarded.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reload_that_renames_the_upstream_hands_its_queue_to_the_new_link_with_what_it_buffers()
    {
        var (engine, downstream) = await StartBufferingAsync();
        var before = Assert.Single(engine.GetLinks());

        // The queue's name does not carry the upstream's: the link under the new name declares the very same queue.
        await engine.UpdateAsync(Configuration(_ => { }, upstreamName: "u2"), CancellationToken.None);

        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue was deleted");
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Contains("u2", Assert.Single(_logs.WithId(2030)).Message, StringComparison.Ordinal);
        await Testbed.Eventually(
            () =>
            {
                ReleaseHeld();
                return downstream.Bodies.Distinct().Count() == 3;
            },
            () => $"downstream has [{string.Join(",", downstream.Bodies)}], {UpstreamMessages} left upstream");
        var after = Assert.Single(engine.GetLinks());
        Assert.NotEqual(before.Id, after.Id);
        Assert.Equal("u2", after.Upstream);
        Assert.Equal(["m0", "m1", "m2"], downstream.Bodies.Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_reload_that_removes_a_link_deletes_its_queue_and_says_how_many_messages_that_discards()
    {
        var (engine, _) = await StartBufferingAsync();

        var removed = Configuration(_ => { });
        removed.Policies.Clear();
        await engine.UpdateAsync(removed, CancellationToken.None);

        Assert.Empty(engine.GetLinks());
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue));
        var discarded = Assert.Single(_logs.WithId(1028));
        Assert.Equal(LogLevel.Warning, discarded.Level);
        Assert.Contains("removed from the configuration", discarded.Message, StringComparison.Ordinal);
        Assert.Matches("discards [23] message", discarded.Message);
    }

    [Fact]
    public async Task The_number_of_messages_discarded_is_what_the_queue_held_when_it_was_deleted_including_what_reached_it_just_before()
    {
        var (engine, downstream) = await StartBufferingAsync();

        // Messages the upstream exchange routes while the link stops, until its queue is gone: the count used to be read
        // before the deletion, and these were discarded without a word.
        var publisher = await _bed.ConnectAsync("U");
        int? heldAtDeletion = null;
        _deletions!.BeforeDeletion = async queue =>
        {
            if (queue == UpstreamQueue)
            {
                for (var i = 0; i < 5; i++)
                {
                    await Testbed.PublishAsync(publisher, "upstream", "key", $"late{i}");
                }

                heldAtDeletion = UpstreamMessages;
            }
        };

        var removed = Configuration(_ => { });
        removed.Policies.Clear();
        await engine.UpdateAsync(removed, CancellationToken.None);

        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue));
        Assert.NotNull(heldAtDeletion);
        Assert.InRange(heldAtDeletion.Value, 2 + 5, 3 + 5); // m1, m2 and the late ones; m0 too once the consumer's close returned it
        var discarded = Assert.Single(_logs.WithId(1028));
        Assert.Equal(LogLevel.Warning, discarded.Level);
        Assert.Contains($"discards {heldAtDeletion} message(s) it held", discarded.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(downstream.Bodies, body => body.StartsWith("late", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_single_engine_that_stops_deletes_its_queues_and_says_how_many_messages_that_discards()
    {
        // On the engine's fake clock, moved by the test: the stop waits one drain timeout for the held confirm, and the
        // upstream teardown after it (the consumer's cancel, then the deletions) gets all the time it needs. On the real
        // clock, a consumer's cancel that a starved thread pool ran late passed its own drain timeout, and the stop kept the
        // queue as an upstream that does not answer.
        var time = new FakeTimeProvider();
        var (engine, _) = await StartBufferingAsync(time);

        var waitsBefore = time.TimersDueIn(StopDeadline.DrainTimeout);
        var stopping = Task.Run(() => engine.StopAsync(CancellationToken.None));
        await Testbed.Eventually(() => time.TimersDueIn(StopDeadline.DrainTimeout) > waitsBefore, () => "the stop should wait for the forward in flight");
        time.Advance(StopDeadline.DrainTimeout);
        await stopping.WaitAsync(Testbed.Deadline);

        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue));
        var discarded = Assert.Single(_logs.WithId(1028));
        Assert.Equal(LogLevel.Warning, discarded.Level);
        Assert.Contains("the engine stopped", discarded.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The basic link with prefetch-count 1 and three messages published upstream: m0 is forwarded and waits for its confirm,
    /// m1 and m2 wait in the upstream queue.
    /// </summary>
    private async Task<(FederationEngine Engine, QueueProbe Downstream)> StartBufferingAsync(TimeProvider? time = null, string? downstreamUri = null)
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            o.Downstream.Uri = downstreamUri ?? o.Downstream.Uri;
            Testbed.AddUpstreamsAndPolicies(o, Configuration(_ => { }));
        }, loggerFactory: _logs.AsFactory(), time: time);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var downstream = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < 3; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        await Testbed.Eventually(() => _transport!.Held.Count == 1 && UpstreamMessages == 2, () => $"{_transport!.Held.Count} held, {UpstreamMessages} buffered");
        return (engine, downstream);
    }

    /// <summary>Three links from U (fed.a, fed.b, fed.c), running, with nothing buffered.</summary>
    private async Task<FederationEngine> StartThreeLinksAsync()
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            Testbed.AddUpstreamsAndPolicies(o, Configuration(_ => { }));
        }, loggerFactory: _logs.AsFactory());
        var downstream = await _bed.ConnectAsync("D");
        foreach (var exchange in new[] { "fed.a", "fed.b", "fed.c" })
        {
            await Testbed.DeclareExchangeAsync(downstream, exchange);
        }

        await Testbed.WaitForRunningLinksAsync(engine, 3);
        return engine;
    }

    private int UpstreamMessages => _bed.Broker("U").GetMessageCount("/", _bufferingQueue);

    private void ReleaseHeld()
    {
        foreach (var confirm in _transport?.Held ?? [])
        {
            confirm.TrySetResult();
        }
    }
}
