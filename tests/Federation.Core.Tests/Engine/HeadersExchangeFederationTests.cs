using System.Text;
using Federation.Core.Transport;
using static Federation.Core.Tests.Hops.Trails;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A headers exchange federated U → D on in-memory brokers, with downstream bindings in every x-match mode: each queue
/// gets exactly the messages its binding matches, as if it were bound on the upstream exchange.
/// </summary>
public sealed class HeadersExchangeFederationTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task Every_x_match_mode_delivers_exactly_what_it_matches_after_federation()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^fed\\.", upstream: "u"));
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.headers", ExchangeSpec.Types.Headers);
        var all = await BindAsync("all", Table(("x-match", "all"), ("color", "red"), ("size", "big")));
        var any = await BindAsync("any", Table(("x-match", "any"), ("color", "red"), ("size", "big")));
        var allWithX = await BindAsync("all-with-x", Table(("x-match", "all-with-x"), ("shape", "square"), ("x-tenant", "t1")));
        var anyWithX = await BindAsync("any-with-x", Table(("x-match", "any-with-x"), ("color", "blue"), ("x-tenant", "t2")));
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await Testbed.Eventually(() => _bed.Broker("U").GetBindings("/", "fed.headers").Count == 4, () => $"expected 4 upstream bindings, have {_bed.Broker("U").GetBindings("/", "fed.headers").Count}");

        var publisher = await _bed.ConnectAsync("U");
        await PublishAsync(publisher, "red-big", ("color", "red"), ("size", "big"));
        await PublishAsync(publisher, "red-small", ("color", "red"), ("size", "small"));
        await PublishAsync(publisher, "red-t1", ("color", "red"), ("x-tenant", "t1"));
        await PublishAsync(publisher, "square-t1", ("shape", "square"), ("x-tenant", "t1"));
        await PublishAsync(publisher, "square", ("shape", "square"));
        await PublishAsync(publisher, "green-t2", ("color", "green"), ("x-tenant", "t2"));
        await PublishAsync(publisher, "blue-t1", ("color", "blue"), ("x-tenant", "t1"));
        await PublishAsync(publisher, "green", ("color", "green"));

        await all.ExpectAsync("red-big");
        await any.ExpectAsync("red-big", "red-small", "red-t1");
        await allWithX.ExpectAsync("square-t1");
        await anyWithX.ExpectAsync("green-t2", "blue-t1");

        // A plain all binding with the same arguments as the all-with-x one: it gets an upstream binding of its own,
        // and unbinding the all-with-x queue must leave it in place.
        var plainTwin = await BindAsync("plain-twin", Table(("x-match", "all"), ("shape", "square"), ("x-tenant", "t1")));
        await Testbed.Eventually(() => _bed.Broker("U").GetBindings("/", "fed.headers").Count == 5, () => $"expected 5 upstream bindings, have {_bed.Broker("U").GetBindings("/", "fed.headers").Count}");

        // Unbinding the all-with-x queue removes only its own upstream binding.
        await app.UnbindAsync(new BindingSpec("fed.headers", allWithX.Queue, BindingDestinationKind.Queue, "", Table(("x-match", "all-with-x"), ("shape", "square"), ("x-tenant", "t1"))), false, CancellationToken.None);
        await Testbed.Eventually(() => _bed.Broker("U").GetBindings("/", "fed.headers").Count == 4, () => $"expected 4 upstream bindings, have {_bed.Broker("U").GetBindings("/", "fed.headers").Count}");
        await PublishAsync(publisher, "square-t1-again", ("shape", "square"), ("x-tenant", "t1"));
        await plainTwin.ExpectAsync("square-t1-again");
        await allWithX.ExpectAsync("square-t1");
    }

    private async Task<QueueProbe> BindAsync(string name, Dictionary<string, object?> arguments)
    {
        var connection = await _bed.ConnectAsync("D");
        var queue = $"q-{name}-{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false), CancellationToken.None);
        await connection.BindAsync(new BindingSpec("fed.headers", queue, BindingDestinationKind.Queue, "", arguments), false, CancellationToken.None);
        var probe = new QueueProbe(connection, queue);
        await probe.StartAsync();
        return probe;
    }

    private static Task PublishAsync(IBrokerConnection publisher, string body, params (string Key, object? Value)[] headers) =>
        Testbed.PublishAsync(publisher, "fed.headers", "", body, new MessageProperties { Headers = Table(headers) });
}
