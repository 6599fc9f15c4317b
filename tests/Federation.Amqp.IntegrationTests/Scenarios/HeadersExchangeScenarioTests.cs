using Federation.Core.Links;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A real RabbitMQ headers exchange federated A → B, with downstream bindings in every x-match mode. Each downstream
/// queue must receive exactly what its binding matches: the propagated bindings carry <c>x-bound-from</c>, which no
/// message carries, and must still match upstream.
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class HeadersExchangeScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task Every_x_match_mode_delivers_exactly_what_it_matches_after_federation()
    {
        var exchange = ScenarioContext.UniqueName("fed.headers");
        await context.DeclareExchangeAsync(nodes.B, exchange, ExchangeType.Headers);
        context.DeleteLater(nodes.A, exchange);
        var all = await context.BindQueueAsync(nodes.B, exchange, "", Arguments(("x-match", "all"), ("color", "red"), ("size", "big")));
        var any = await context.BindQueueAsync(nodes.B, exchange, "", Arguments(("x-match", "any"), ("color", "red"), ("size", "big")));
        var allWithXArguments = Arguments(("x-match", "all-with-x"), ("shape", "square"), ("x-tenant", "t1"));
        var allWithX = await context.BindQueueAsync(nodes.B, exchange, "", allWithXArguments);
        var anyWithX = await context.BindQueueAsync(nodes.B, exchange, "", Arguments(("x-match", "any-with-x"), ("color", "blue"), ("x-tenant", "t2")));

        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, null)));
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => FederationBindingCountAsync(exchange), count => count == 4, "the four bindings should propagate upstream");

        var publisher = await context.ChannelAsync(nodes.A);
        await PublishAsync(publisher, exchange, "red-big", ("color", "red"), ("size", "big"));
        await PublishAsync(publisher, exchange, "red-small", ("color", "red"), ("size", "small"));
        await PublishAsync(publisher, exchange, "red-t1", ("color", "red"), ("x-tenant", "t1"));
        await PublishAsync(publisher, exchange, "square-t1", ("shape", "square"), ("x-tenant", "t1"));
        await PublishAsync(publisher, exchange, "square", ("shape", "square"));
        await PublishAsync(publisher, exchange, "green-t2", ("color", "green"), ("x-tenant", "t2"));
        await PublishAsync(publisher, exchange, "blue-t1", ("color", "blue"), ("x-tenant", "t1"));
        await PublishAsync(publisher, exchange, "green", ("color", "green"));

        await all.ExpectAsync("red-big");
        await any.ExpectAsync("red-big", "red-small", "red-t1");
        await allWithX.ExpectAsync("square-t1");
        await anyWithX.ExpectAsync("green-t2", "blue-t1");

        // A plain all binding with the same arguments as the all-with-x one: it gets an upstream binding of its own,
        // and unbinding the all-with-x queue must leave it in place.
        var plainTwin = await context.BindQueueAsync(nodes.B, exchange, "", Arguments(("x-match", "all"), ("shape", "square"), ("x-tenant", "t1")));
        await Management.WaitAsync(() => FederationBindingCountAsync(exchange), count => count == 5, "the plain twin should propagate upstream as a binding of its own");

        // Unbinding the all-with-x queue removes only its own upstream binding; the plain twin keeps receiving.
        await allWithX.Channel.QueueUnbindAsync(allWithX.Queue, exchange, "", allWithXArguments);
        await Management.WaitAsync(() => FederationBindingCountAsync(exchange), count => count == 4, "only the all-with-x binding should be unbound upstream");
        await PublishAsync(publisher, exchange, "square-t1-again", ("shape", "square"), ("x-tenant", "t1"));
        await plainTwin.ExpectAsync("square-t1-again");
        await allWithX.ExpectAsync("square-t1");
    }

    [Fact]
    public async Task Rabbitmq_itself_never_matches_all_with_x_with_an_x_bound_from_argument()
    {
        // Why the fix exists: an all-with-x binding carrying the trail as the plugin would declare it matches nothing.
        var exchange = ScenarioContext.UniqueName("fed.headers.raw");
        await context.DeclareExchangeAsync(nodes.A, exchange, ExchangeType.Headers);
        var trail = new List<object?> { Arguments(("cluster-name", "b"), ("vhost", "/"), ("exchange", "/:x A"), ("hops", (short)1)) };
        var withTrail = await context.BindQueueAsync(nodes.A, exchange, "", Arguments(("x-match", "all-with-x"), ("color", "red"), ("x-bound-from", trail)));
        var withoutTrail = await context.BindQueueAsync(nodes.A, exchange, "", Arguments(("x-match", "all-with-x"), ("color", "red")));

        var publisher = await context.ChannelAsync(nodes.A);
        await PublishAsync(publisher, exchange, "red", ("color", "red"));

        await withoutTrail.ExpectAsync("red");
        await withTrail.ExpectAsync();
    }

    private async Task<int> FederationBindingCountAsync(string exchange) =>
        (await Management.SourceBindingsAsync(nodes.A, exchange)).Count(b => b.Destination.StartsWith("federation: ", StringComparison.Ordinal));

    private static Dictionary<string, object?> Arguments(params (string Key, object? Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    private static Task PublishAsync(IChannel channel, string exchange, string body, params (string Key, object? Value)[] headers) =>
        ScenarioContext.PublishAsync(channel, exchange, "", body, new BasicProperties { Headers = Arguments(headers) });
}
