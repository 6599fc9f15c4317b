using Federation.Core.Links;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>exchange_SUITE simple / unbind, on real nodes: A is the upstream, B the downstream.</summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class SimpleBindingScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task Binding_propagates_upstream_publish_arrives_and_unbind_removes_the_upstream_binding()
    {
        var exchange = ScenarioContext.UniqueName("fed.simple");
        await context.DeclareExchangeAsync(nodes.B, exchange);
        context.DeleteLater(nodes.A, exchange);
        var queue = await context.BindQueueAsync(nodes.B, exchange, "key");

        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, null)));
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);

        // The upstream exchange was declared as a mirror of the downstream one and carries the propagated binding.
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key"]), "the binding should propagate upstream");
        var binding = Assert.Single(await Management.SourceBindingsAsync(nodes.A, exchange));
        Assert.StartsWith($"federation: {exchange} -> {nodes.B.ClusterName}", binding.Destination, StringComparison.Ordinal);
        Assert.Contains(await Management.NamesAsync(nodes.A, "queues"), q => q.StartsWith($"federation: {exchange} -> {nodes.B.ClusterName}", StringComparison.Ordinal));

        var publisher = await context.ChannelAsync(nodes.A);
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "HELLO");
        await ScenarioContext.PublishAsync(publisher, exchange, "other", "NOT-BOUND");
        await queue.ExpectAsync("HELLO");

        // Unbinding the only downstream destination sends the unbind upstream.
        await queue.Channel.QueueUnbindAsync(queue.Queue, exchange, "key");
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.Count == 0, "the unbind should propagate upstream");
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "AFTER-UNBIND");
        await queue.ExpectAsync("HELLO");
    }
}
