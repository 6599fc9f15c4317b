using Federation.Core.Topology;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Explicit mode: the host declares the federated exchanges and bindings through <see cref="ExplicitTopology"/>; the
/// engine declares them downstream, federates them, and ignores what other clients do on the downstream broker.
/// </summary>
public sealed class ExplicitTopologyTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private readonly ExplicitTopology _topology = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task Declared_exchanges_and_bindings_are_created_downstream_and_propagated_upstream()
    {
        // The queue is the host's to declare; the exchange and the binding are declared through the library only.
        var app = await _bed.ConnectAsync("D");
        await app.DeclareQueueAsync(new QueueSpec("orders-eu", Durable: false), CancellationToken.None);
        _topology.DeclareExchange(new ExchangeSpec("fed.orders", ExchangeSpec.Types.Topic));
        _topology.Bind(new BindingSpec("fed.orders", "orders-eu", BindingDestinationKind.Queue, "eu.#"));
        var engine = await StartAsync();

        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.True(_bed.Broker("D").ExchangeExists("/", "fed.orders"));
        Assert.Equal(["eu.#"], _bed.Broker("D").GetBindings("/", "fed.orders").Select(b => b.RoutingKey));
        await _bed.WaitForBindingsAsync("U", "fed.orders", "eu.#", 1);

        var probe = new QueueProbe(app, "orders-eu");
        await probe.StartAsync();
        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "fed.orders", "eu.created", "m1");
        await probe.ExpectAsync("m1");
        await probe.DisposeAsync();
    }

    [Fact]
    public async Task Unbind_and_delete_follow_downstream_and_upstream()
    {
        var app = await _bed.ConnectAsync("D");
        await app.DeclareQueueAsync(new QueueSpec("q", Durable: false), CancellationToken.None);
        var engine = await StartAsync();
        _topology.DeclareExchange(new ExchangeSpec("fed.x", ExchangeSpec.Types.Direct));
        var first = new BindingSpec("fed.x", "q", BindingDestinationKind.Queue, "a");
        _topology.Bind(first);
        _topology.Bind(new BindingSpec("fed.x", "q", BindingDestinationKind.Queue, "b"));
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "fed.x", "a", 1);
        await _bed.WaitForBindingsAsync("U", "fed.x", "b", 1);

        _topology.Unbind(first);
        await _bed.WaitForBindingsAsync("U", "fed.x", "a", 0);
        await _bed.WaitForBindingsAsync("D", "fed.x", "a", 0);
        await _bed.WaitForBindingsAsync("U", "fed.x", "b", 1);

        // Deleting the exchange stops its link, which cleans up its upstream queue.
        _topology.DeleteExchange("fed.x");
        await Testbed.Eventually(() => engine.GetLinks().Count == 0 && !_bed.Broker("D").ExchangeExists("/", "fed.x"), () => $"{engine.GetLinks().Count} links");
        await Testbed.Eventually(() => !_bed.Broker("U").GetQueueNames("/").Any(q => q.StartsWith("federation:", StringComparison.Ordinal)), () => string.Join(", ", _bed.Broker("U").GetQueueNames("/")));
        Assert.Empty(_topology.Exchanges);
        Assert.Empty(_topology.Bindings);
    }

    [Fact]
    public async Task Bindings_other_clients_make_downstream_are_not_federated()
    {
        var app = await _bed.ConnectAsync("D");
        await app.DeclareQueueAsync(new QueueSpec("ours", Durable: false), CancellationToken.None);
        await app.DeclareQueueAsync(new QueueSpec("theirs", Durable: false), CancellationToken.None);
        _topology.DeclareExchange(new ExchangeSpec("fed.x", ExchangeSpec.Types.Direct));
        _topology.Bind(new BindingSpec("fed.x", "ours", BindingDestinationKind.Queue, "declared"));
        var engine = await StartAsync();
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        // Another client binds on the downstream broker; then the host adds one more binding, which must arrive after it.
        await app.BindAsync(new BindingSpec("fed.x", "theirs", BindingDestinationKind.Queue, "undeclared"), false, CancellationToken.None);
        _topology.Bind(new BindingSpec("fed.x", "ours", BindingDestinationKind.Queue, "later"));
        await _bed.WaitForBindingsAsync("U", "fed.x", "later", 1);
        Assert.Equal(["declared", "later"], _bed.Broker("U").GetBindings("/", "fed.x").Select(b => b.RoutingKey).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_topology_is_declared_again_after_the_downstream_reconnects()
    {
        var app = await _bed.ConnectAsync("D");
        await app.DeclareQueueAsync(new QueueSpec("q", Durable: false), CancellationToken.None);
        _topology.DeclareExchange(new ExchangeSpec("fed.x", ExchangeSpec.Types.Direct));
        _topology.Bind(new BindingSpec("fed.x", "q", BindingDestinationKind.Queue, "k"));
        var engine = await StartAsync();
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        // Someone deletes the exchange behind the library's back, then the connection drops: the reconnect restores it.
        await app.DeleteExchangeAsync("fed.x", CancellationToken.None);
        _bed.Broker("D").DropConnections();
        await Testbed.Eventually(() => _bed.Broker("D").ExchangeExists("/", "fed.x") && _bed.Broker("D").GetBindings("/", "fed.x").Count == 1, () => "exchange and binding redeclared");
    }

    [Fact]
    public void Bad_declarations_are_rejected_with_the_offending_name()
    {
        var unknownSource = Assert.Throws<ArgumentException>(() => _topology.Bind(new BindingSpec("nope", "q", BindingDestinationKind.Queue, "k")));
        Assert.Contains("'nope'", unknownSource.Message, StringComparison.Ordinal);
        _topology.DeclareExchange(new ExchangeSpec("x", ExchangeSpec.Types.Direct));
        var unknownDestination = Assert.Throws<ArgumentException>(() => _topology.Bind(new BindingSpec("x", "y", BindingDestinationKind.Exchange, "k")));
        Assert.Contains("'y'", unknownDestination.Message, StringComparison.Ordinal);
        Assert.Contains("default exchange", Assert.Throws<ArgumentException>(() => _topology.DeclareExchange(new ExchangeSpec("", ExchangeSpec.Types.Direct))).Message, StringComparison.Ordinal);
        Assert.Empty(_topology.Bindings);
    }

    [Fact]
    public async Task Changes_carry_increasing_serials_and_the_snapshot_covers_them()
    {
        var changes = new List<TopologyChange>();
        using var subscription = _topology.Subscribe(changes.Add);
        _topology.DeclareExchange(new ExchangeSpec("x", ExchangeSpec.Types.Direct));
        _topology.DeclareExchange(new ExchangeSpec("x", ExchangeSpec.Types.Direct)); // unchanged: no change
        _topology.Bind(new BindingSpec("x", "q", BindingDestinationKind.Queue, "k", new Dictionary<string, object?> { ["a"] = 1L }));
        _topology.Bind(new BindingSpec("x", "q", BindingDestinationKind.Queue, "k", new Dictionary<string, object?> { ["a"] = 1L })); // equal arguments
        _topology.Unbind(new BindingSpec("x", "q", BindingDestinationKind.Queue, "k", new Dictionary<string, object?> { ["a"] = 1L }));

        Assert.Equal([1L, 2L, 3L], changes.Select(c => c.Serial));
        Assert.Equal([TopologyChangeKind.ExchangeDeclared, TopologyChangeKind.BindingAdded, TopologyChangeKind.BindingRemoved], changes.Select(c => c.Kind));
        var snapshot = await _topology.GetSnapshotAsync(CancellationToken.None);
        Assert.Equal(3, snapshot.Serial);
        Assert.Equal(["x"], snapshot.Exchanges.Select(e => e.Name));
        Assert.Empty(snapshot.Bindings);
    }

    private Task<FederationEngine> StartAsync() =>
        _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^fed\\.", upstream: "u"), explicitTopology: _topology);
}
