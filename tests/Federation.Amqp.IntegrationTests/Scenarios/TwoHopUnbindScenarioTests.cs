using Federation.Core.Links;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A binding that crosses two links (C &lt;- B &lt;- A, max-hops 2) and is then removed at C must leave no binding on A,
/// also when the engine in the middle first read it from the management API's snapshot (JSON: its <c>x-bound-from</c>
/// hops as a long, the entry's fields in the API's order) and then learnt of its removal from the event exchange (the
/// broker's own types and order). RabbitMQ removes a binding only when the unbind's arguments are the bound ones exactly,
/// so an unbind written from the event's form of the arguments left the binding made from the snapshot's on A for good:
/// messages kept crossing the link to B, after the consumer that asked for them had gone.
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class TwoHopUnbindScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task Unbinding_at_the_far_end_removes_a_binding_the_middle_engine_read_from_its_snapshot()
    {
        var exchange = ScenarioContext.UniqueName("fed.twohop");
        await context.DeclareExchangeAsync(nodes.C, exchange);
        context.DeleteLater(nodes.B, exchange);
        context.DeleteLater(nodes.A, exchange);
        var queue = await context.BindQueueAsync(nodes.C, exchange, "key.#");

        // C <- B first: the binding reaches B (hops 2) before B's engine starts, so B's engine reads it from its snapshot.
        var engineC = await context.StartEngineAsync(ScenarioContext.Options(nodes.C, exchange, ("b", nodes.B, u => u.MaxHops = 2)));
        await ScenarioContext.WaitForLinkAsync(engineC, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.B, exchange), keys => keys.SequenceEqual(["key.#"]), "C's binding should propagate to B");

        var engineB = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, u => u.MaxHops = 2)));
        await ScenarioContext.WaitForLinkAsync(engineB, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key.#"]), "the binding should propagate on from B to A");

        var publisher = await context.ChannelAsync(nodes.A);
        await ScenarioContext.PublishAsync(publisher, exchange, "key.1", "TWO-HOPS");
        await queue.ExpectAsync("TWO-HOPS");

        // B's engine learns of the removal from the event exchange.
        await queue.Channel.QueueUnbindAsync(queue.Queue, exchange, "key.#");
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.B, exchange), keys => keys.Count == 0, "the unbind should reach B");
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.Count == 0, "the unbind should reach A too");
    }
}
