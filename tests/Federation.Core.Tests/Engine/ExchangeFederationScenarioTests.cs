using Federation.Core.Hops;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The federation plugin's exchange_SUITE scenarios (legacy and current), ported to in-memory brokers.
/// U is the upstream broker, D the downstream; each broker's cluster name is its name.
/// </summary>
public sealed class ExchangeFederationScenarioTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task Simple_binding_propagates_and_upstream_publish_arrives()
    {
        var engine = await _bed.StartEngineAsync("D", o => o
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed\\.", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        // The upstream exchange was auto-declared as a mirror of the downstream one, and carries the propagated binding.
        Assert.Equal(ExchangeSpec.Types.Topic, _bed.Broker("U").GetExchange("/", "upstream")!.Type);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        var upstreamQueue = _bed.Broker("U").GetQueue("/", "federation: upstream -> D:fed.downstream");
        Assert.NotNull(upstreamQueue);
        Assert.Equal("federation", upstreamQueue!.Arguments![HopHeaders.InternalPurposeArgument]);
        Assert.Equal("classic", upstreamQueue.Arguments["x-queue-type"]);

        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "HELLO");
        await queue.ExpectAsync("HELLO");

        var trail = HopRules.ReadReceivedFrom(queue.Received[0].Properties.Headers);
        var hop = Assert.Single(trail);
        Assert.Equal(new ReceivedFromEntry("memory://U/%2F", "upstream", false, "U", "/"), hop);
    }

    [Fact]
    public async Task Multiple_upstreams_from_one_set_with_two_exchanges()
    {
        var engine = await _bed.StartEngineAsync("D", o => o
            .Upstream("localhost", "U")
            .Set("upstream12", Fixture.Element("localhost", "upstream"), Fixture.Element("localhost", "upstream2"))
            .Policy("fed12", "^fed12\\.", set: "upstream12"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed12.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed12.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        await _bed.WaitForBindingsAsync("U", "upstream2", "key", 1);

        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "HELLO1");
        await Testbed.PublishAsync(publisher, "upstream2", "key", "HELLO2");
        await queue.ExpectAsync("HELLO1", "HELLO2");
    }

    [Theory]
    [InlineData("set-all")]
    [InlineData("pattern")]
    public async Task Multiple_upstreams_through_all_or_pattern(string selection)
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            o.Upstream("local453x", "U1", u => u.Exchange = "upstream").Upstream("local3214x", "U2", u => u.Exchange = "upstream").Upstream("other", "U3");
            if (selection == "set-all")
            {
                o.Policy("p", "^fed\\.", set: "all");
            }
            else
            {
                o.Policy("p", "^fed\\.", upstreamPattern: "local\\d+x");
            }
        });
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.x");
        var queue = await _bed.BindQueueAsync("D", "fed.x", "key");
        await Testbed.WaitForRunningLinksAsync(engine, selection == "set-all" ? 3 : 2);
        Assert.Equal(selection == "set-all" ? ["local3214x", "local453x", "other"] : ["local3214x", "local453x"],
            engine.GetLinks().Select(l => l.Upstream).Order(StringComparer.Ordinal));
        await _bed.WaitForBindingsAsync("U1", "upstream", "key", 1);
        await _bed.WaitForBindingsAsync("U2", "upstream", "key", 1);

        await Testbed.PublishAsync(await _bed.ConnectAsync("U1"), "upstream", "key", "FROM1");
        await Testbed.PublishAsync(await _bed.ConnectAsync("U2"), "upstream", "key", "FROM2");
        await queue.ExpectAsync("FROM1", "FROM2");
    }

    [Fact]
    public async Task Multiple_downstreams_share_one_upstream_binding_per_link()
    {
        var engine = await _bed.StartEngineAsync("D", o => o
            .Upstream("localhost", "U")
            .Set("upstream", Fixture.Element("localhost", "upstream"))
            .Set("upstream12", Fixture.Element("localhost", "upstream"), Fixture.Element("localhost", "upstream2"))
            .Policy("fed", "^fed\\.", set: "upstream")
            .Policy("fed12", "^fed12\\.", set: "upstream12"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        await Testbed.DeclareExchangeAsync(app, "fed12.downstream2");
        var q1 = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        var q12 = await _bed.BindQueueAsync("D", "fed12.downstream2", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 3);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 2);

        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "HELLO1");
        await Testbed.PublishAsync(publisher, "upstream2", "key", "HELLO2");
        await q1.ExpectAsync("HELLO1");
        await q12.ExpectAsync("HELLO1", "HELLO2");
    }

    [Fact]
    public async Task Exchange_to_exchange_downstream_bindings_propagate()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream", ExchangeSpec.Types.Fanout);
        await Testbed.DeclareExchangeAsync(app, "downstream2", ExchangeSpec.Types.Fanout);
        await app.BindAsync(new BindingSpec("fed.downstream", "downstream2", BindingDestinationKind.Exchange, "key"), false, CancellationToken.None);
        var queue = await _bed.BindQueueAsync("D", "downstream2", "");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "HELLO");
        await queue.ExpectAsync("HELLO");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Unbind_on_delete_or_unbind_keeps_the_upstream_binding_while_one_destination_remains(bool delete)
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        var q1 = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        var q2 = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        if (delete)
        {
            await app.DeleteQueueAsync(q2.Queue, CancellationToken.None);
        }
        else
        {
            await app.UnbindAsync(new BindingSpec("fed.downstream", q2.Queue, BindingDestinationKind.Queue, "key"), false, CancellationToken.None);
        }

        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "HELLO");
        await q1.ExpectAsync("HELLO");
        Assert.Single(_bed.Broker("U").GetBindings("/", "upstream"), b => b.RoutingKey == "key");

        // Removing the last destination sends the unbind upstream.
        await app.DeleteQueueAsync(q1.Queue, CancellationToken.None);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 0);
    }

    [Fact]
    public async Task Unbind_gets_transmitted_only_for_groups_that_emptied()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        var q11 = await _bed.BindQueueAsync("D", "fed.downstream", "key1");
        var q12 = await _bed.BindQueueAsync("D", "fed.downstream", "key1");
        var q21 = await _bed.BindQueueAsync("D", "fed.downstream", "key2");
        var q22 = await _bed.BindQueueAsync("D", "fed.downstream", "key2");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key1", 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key2", 1);

        foreach (var q in new[] { q12, q21, q22 })
        {
            await app.DeleteQueueAsync(q.Queue, CancellationToken.None);
        }

        await _bed.WaitForBindingsAsync("U", "upstream", "key2", 0);
        await _bed.WaitForBindingsAsync("U", "upstream", "key1", 1);
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key1", "YES");
        await Testbed.PublishAsync(publisher, "upstream", "key2", "NO");
        await q11.ExpectAsync("YES");
    }

    [Fact]
    public async Task No_loop_between_two_exchanges_federating_each_other()
    {
        // One broker, exchanges "one" and "two" federate each other through the local upstream (max-hops 1).
        var engine = await _bed.StartEngineAsync("N", o => o
            .Upstream("localhost", "N")
            .Set("one", Fixture.Element("localhost", "one"))
            .Set("two", Fixture.Element("localhost", "two"))
            .Policy("two", "^two$", set: "one")
            .Policy("one", "^one$", set: "two"));
        var app = await _bed.ConnectAsync("N");
        await Testbed.DeclareExchangeAsync(app, "one");
        await Testbed.DeclareExchangeAsync(app, "two");
        var q1 = await _bed.BindQueueAsync("N", "one", "key");
        var q2 = await _bed.BindQueueAsync("N", "two", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        await _bed.WaitForBindingsAsync("N", "one", "key", 2);
        await _bed.WaitForBindingsAsync("N", "two", "key", 2);

        await Testbed.PublishAsync(app, "one", "key", "Hello from one");
        await Testbed.PublishAsync(app, "two", "key", "Hello from two");
        await q1.ExpectAsync("Hello from one", "Hello from two");
        await q2.ExpectAsync("Hello from one", "Hello from two");
    }

    [Fact]
    public async Task Self_federation_delivers_a_local_copy_and_a_federated_copy()
    {
        var engine = await _bed.StartEngineAsync("N", o => o.Upstream("localhost", "N").Policy("fed", "^fed\\.", upstream: "localhost"));
        var app = await _bed.ConnectAsync("N");
        await Testbed.DeclareExchangeAsync(app, "fed.self");
        var queue = await _bed.BindQueueAsync("N", "fed.self", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("N", "fed.self", "key", 2);

        await Testbed.PublishAsync(app, "fed.self", "key", "HELLO");
        await queue.ExpectAsync("HELLO", "HELLO");
    }

    [Fact]
    public async Task Default_max_hops_stops_a_message_after_one_link()
    {
        // A -> B -> C with max-hops 1 everywhere: a message published on A reaches B but not C.
        await _bed.StartEngineAsync("B", o => o.Upstream("a", "A").Policy("fed", "^fed$", upstream: "a"));
        await _bed.StartEngineAsync("C", o => o.Upstream("b", "B").Policy("fed", "^fed$", upstream: "b"));
        foreach (var b in new[] { "A", "B", "C" })
        {
            await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync(b), "fed");
        }

        var qb = await _bed.BindQueueAsync("B", "fed", "key");
        var qc = await _bed.BindQueueAsync("C", "fed", "key");
        await _bed.WaitForBindingsAsync("B", "fed", "key", 2); // local + C's link (hops 1 stops here)
        await _bed.WaitForBindingsAsync("A", "fed", "key", 1); // only B's local binding propagates

        await Testbed.PublishAsync(await _bed.ConnectAsync("A"), "fed", "key", "M");
        await Testbed.PublishAsync(await _bed.ConnectAsync("B"), "fed", "key", "LOCAL-B");
        await qb.ExpectAsync("M", "LOCAL-B");
        await qc.ExpectAsync("LOCAL-B");
    }

    [Fact]
    public async Task Trust_user_id_controls_whether_user_id_crosses()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "untrusted", new MessageProperties { UserId = "hare-user" });
        await Testbed.Eventually(() => queue.Count == 1, () => "first message");
        Assert.Null(queue.Received[0].Properties.UserId);
        var firstQueueGeneration = _bed.Broker("U").GetExchangeNames("/").Single(n => n.StartsWith("federation: upstream", StringComparison.Ordinal) && !n.EndsWith(" sentinel", StringComparison.Ordinal));

        var options = new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => { u.Exchange = "upstream"; u.TrustUserId = true; })
            .Policy("fed", "^fed\\.", upstream: "u");
        await engine.UpdateAsync(options, CancellationToken.None);
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running }] && _bed.Broker("U").GetExchangeNames("/").Any(n => n.StartsWith("federation: upstream", StringComparison.Ordinal) && !n.EndsWith(" sentinel", StringComparison.Ordinal) && n != firstQueueGeneration),
            () => "link restarted with a new generation");
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        await Testbed.PublishAsync(publisher, "upstream", "key", "trusted", new MessageProperties { UserId = "hare-user" });
        await Testbed.Eventually(() => queue.Count == 2, () => "second message");
        Assert.Equal("hare-user", queue.Received[1].Properties.UserId);
    }

    [Fact]
    public async Task A_pre_existing_non_array_received_from_header_is_tolerated_and_preserved()
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync();

        var properties = new MessageProperties { Headers = new() { [HopHeaders.ReceivedFrom] = "not-an-array" } };
        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "ODD", properties);
        await queue.ExpectAsync("ODD");
        var headers = queue.Received[0].Properties.Headers!;
        Assert.Single(HopRules.ReadReceivedFrom(headers));
        var invalid = Assert.IsAssignableFrom<IReadOnlyDictionary<string, object?>>(headers[HopHeaders.InvalidHeaders]);
        // As the plugin's prepend_table_header: displaced values are kept in an array under the header's name.
        Assert.Equal(new List<object?> { "not-an-array" }, invalid[HopHeaders.ReceivedFrom], HeaderValueComparer.Instance);
    }

    [Fact]
    public async Task Restart_upstream_resynchronises_bindings_changed_while_it_was_down()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => { u.Exchange = "upstream"; u.ReconnectDelaySeconds = 0.1; }).Policy("fed", "^fed\\.", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        var stays = await _bed.BindQueueAsync("D", "fed.downstream", "stays");
        var goes = await _bed.BindQueueAsync("D", "fed.downstream", "goes");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "goes", 1);

        _bed.Broker("U").Stop();
        await Testbed.Eventually(() => engine.GetLinks()[0].State == LinkState.Error, () => "link in error while the upstream is down");
        var comes = await _bed.BindQueueAsync("D", "fed.downstream", "comes");
        await app.DeleteQueueAsync(goes.Queue, CancellationToken.None);
        _bed.Broker("U").Start();

        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "comes", 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "goes", 0);
        await _bed.WaitForBindingsAsync("U", "upstream", "stays", 1);
        var publisher = await _bed.ConnectAsync("U");
        foreach (var key in new[] { "stays", "goes", "comes" })
        {
            await Testbed.PublishAsync(publisher, "upstream", key, key.ToUpperInvariant());
        }

        await stays.ExpectAsync("STAYS");
        await comes.ExpectAsync("COMES");
        Assert.Equal(0, goes.Count);
    }

    [Fact]
    public async Task Ring_of_three_with_max_hops_two_delivers_each_message_exactly_once_everywhere()
    {
        // A <- B, B <- C, C <- A (each federates from the next), max-hops 2.
        string[] nodes = ["A", "B", "C"];
        for (var i = 0; i < 3; i++)
        {
            var upstream = nodes[(i + 1) % 3];
            await _bed.StartEngineAsync(nodes[i], o => o.Upstream(upstream, upstream, u => u.MaxHops = 2).Policy("ring", "^ring$", upstream: upstream));
        }

        var queues = new List<QueueProbe>();
        foreach (var node in nodes)
        {
            await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync(node), "ring");
            queues.Add(await _bed.BindQueueAsync(node, "ring", "key"));
        }

        foreach (var node in nodes)
        {
            await _bed.WaitForBindingsAsync(node, "ring", "key", 3);
        }

        foreach (var node in nodes)
        {
            await Testbed.PublishAsync(await _bed.ConnectAsync(node), "ring", "key", node);
        }

        foreach (var queue in queues)
        {
            await queue.ExpectAsync("A", "B", "C");
        }
    }

    [Fact]
    public async Task Bidirectional_pair_with_high_max_hops_detects_the_cycle()
    {
        await _bed.StartEngineAsync("X", o => o.Upstream("y", "Y", u => u.MaxHops = 10).Policy("fed", "^fed$", upstream: "y"));
        await _bed.StartEngineAsync("Y", o => o.Upstream("x", "X", u => u.MaxHops = 10).Policy("fed", "^fed$", upstream: "x"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("X"), "fed");
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("Y"), "fed");
        var qx = await _bed.BindQueueAsync("X", "fed", "key");
        var qy = await _bed.BindQueueAsync("Y", "fed", "key");
        await _bed.WaitForBindingsAsync("X", "fed", "key", 2);
        await _bed.WaitForBindingsAsync("Y", "fed", "key", 2);

        await Testbed.PublishAsync(await _bed.ConnectAsync("X"), "fed", "key", "HELLO1");
        await Testbed.PublishAsync(await _bed.ConnectAsync("Y"), "fed", "key", "HELLO2");
        await qx.ExpectAsync("HELLO1", "HELLO2");
        await qy.ExpectAsync("HELLO1", "HELLO2");
    }

    [Fact]
    public async Task Binding_propagation_yields_the_plugins_exact_binding_sets()
    {
        // Message flow: Dylan -> Bugs (max-hops 1), Bugs -> Jessica (2), Jessica -> Dylan (1), Dylan -> Jessica (1).
        // "X -> Y" means Y federates from X.
        await _bed.StartEngineAsync("bugs", o => o.Upstream("dylan", "dylan", u => u.MaxHops = 1).Policy("x", "^x$", upstream: "dylan"));
        await _bed.StartEngineAsync("jessica", o => o
            .Upstream("bugs", "bugs", u => u.MaxHops = 2).Upstream("dylan", "dylan", u => u.MaxHops = 1).Policy("x", "^x$", set: "all"));
        await _bed.StartEngineAsync("dylan", o => o.Upstream("jessica", "jessica", u => u.MaxHops = 1).Policy("x", "^x$", upstream: "jessica"));
        var queues = new Dictionary<string, QueueProbe>();
        foreach (var node in new[] { "dylan", "bugs", "jessica" })
        {
            await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync(node), "x");
        }

        foreach (var node in new[] { "dylan", "bugs", "jessica" })
        {
            queues[node] = await _bed.BindQueueAsync(node, "x", node);
        }

        // Dylan holds jessica x2 (direct, and via Bugs), bugs, and its local dylan; Bugs holds jessica and bugs; Jessica holds dylan and jessica.
        await Testbed.Eventually(() => Keys("dylan").SequenceEqual(["bugs", "dylan", "jessica", "jessica"]), () => "dylan: " + string.Join(",", Keys("dylan")));
        await Testbed.Eventually(() => Keys("bugs").SequenceEqual(["bugs", "jessica"]), () => "bugs: " + string.Join(",", Keys("bugs")));
        await Testbed.Eventually(() => Keys("jessica").SequenceEqual(["dylan", "jessica"]), () => "jessica: " + string.Join(",", Keys("jessica")));

        // Deleting the local queues removes everything.
        foreach (var (node, queue) in queues)
        {
            await (await _bed.ConnectAsync(node)).DeleteQueueAsync(queue.Queue, CancellationToken.None);
        }

        foreach (var node in queues.Keys)
        {
            await Testbed.Eventually(() => Keys(node).Count == 0, () => node + ": " + string.Join(",", Keys(node)));
        }

        List<string> Keys(string node) => [.. _bed.Broker(node).GetBindings("/", "x").Select(b => b.RoutingKey).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task Triangle_mesh_with_max_hops_two_gives_exactly_15_copies_per_publish()
    {
        string[] nodes = ["v1", "v2", "v3"];
        foreach (var node in nodes)
        {
            await _bed.StartEngineAsync(node, o =>
            {
                foreach (var other in nodes.Where(n => n != node))
                {
                    o.Upstream(other, other, u => u.MaxHops = 2);
                }

                o.Policy("fed", "^fed\\.", set: "all");
            });
        }

        var queues = new List<QueueProbe>();
        foreach (var node in nodes)
        {
            var app = await _bed.ConnectAsync(node);
            await Testbed.DeclareExchangeAsync(app, "fed.x", ExchangeSpec.Types.Fanout);
            for (var q = 0; q < 3; q++)
            {
                queues.Add(await _bed.BindQueueAsync(node, "fed.x", ""));
            }
        }

        // Each exchange: 3 local queues, plus for each of the 2 downstream links one group per distinct trail.
        foreach (var node in nodes)
        {
            await Testbed.Eventually(() => _bed.Broker(node).GetBindings("/", "fed.x").Count == 3 + 2 + 2,
                () => $"{node}: {_bed.Broker(node).GetBindings("/", "fed.x").Count} bindings");
        }

        const int Publishes = 30;
        for (var i = 0; i < Publishes; i++)
        {
            await Testbed.PublishAsync(await _bed.ConnectAsync(nodes[i % 3]), "fed.x", "", $"m{i}");
        }

        await Testbed.Eventually(() => queues.Sum(q => q.Count) >= Publishes * 15, () => $"{queues.Sum(q => q.Count)} copies");
        await QueueProbe.ExpectNoMoreAsync([.. queues.Select(q => (q, q.Count))]);
        Assert.Equal(Publishes * 15, queues.Sum(q => q.Count));
        Assert.All(queues, q => Assert.Equal(Publishes * 15 / 9, q.Count));
    }
}
