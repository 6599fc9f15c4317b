using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>exchange_SUITE user_id / trust-user-id and the cleanup on clearing the policy, on real nodes (A upstream, B downstream).</summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class TrustAndCleanupScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Trust_user_id_controls_whether_the_validated_user_id_crosses(bool trust)
    {
        var exchange = ScenarioContext.UniqueName("fed.userid");
        await context.DeclareExchangeAsync(nodes.B, exchange);
        context.DeleteLater(nodes.A, exchange);
        var queue = await context.BindQueueAsync(nodes.B, exchange, "key");
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, u => u.TrustUserId = trust ? true : null)));
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key"]), "the binding should propagate upstream");

        // RabbitMQ validates user_id against the connection's user, so the publisher can only claim "guest".
        var publisher = await context.ChannelAsync(nodes.A);
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "USER", new BasicProperties { UserId = "guest" });
        await queue.ExpectAsync("USER");
        Assert.Equal(trust ? "guest" : null, queue.Received[0].Properties.UserId);
    }

    [Fact]
    public async Task Clearing_the_policy_deletes_the_upstream_queue_and_internal_exchange()
    {
        var exchange = ScenarioContext.UniqueName("fed.cleanup");
        await context.DeclareExchangeAsync(nodes.B, exchange);
        context.DeleteLater(nodes.A, exchange);
        var queue = await context.BindQueueAsync(nodes.B, exchange, "key");
        var options = ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, null));
        var engine = await context.StartEngineAsync(options);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);

        var prefix = $"federation: {exchange} -> {nodes.B.ClusterName}";
        await Management.WaitAsync(() => Management.NamesAsync(nodes.A, "queues"), names => names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)), "the upstream queue should exist");
        await Management.WaitAsync(() => Management.NamesAsync(nodes.A, "exchanges"), names => names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)), "the internal exchange should exist");

        var cleared = new FederationOptions { Downstream = { Uri = options.Downstream.Uri } };
        foreach (var (name, upstream) in options.Upstreams)
        {
            cleared.Upstreams[name] = upstream;
        }

        await engine.UpdateAsync(cleared, CancellationToken.None);
        await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().Any(l => l.Exchange == exchange) ? null : engine), "the link should be gone");
        await Management.WaitAsync(() => Management.NamesAsync(nodes.A, "queues"), names => !names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)), "the upstream queue should be deleted");
        await Management.WaitAsync(() => Management.NamesAsync(nodes.A, "exchanges"), names => !names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)), "the internal exchange should be deleted");
        Assert.Empty(await Management.FederationKeysAsync(nodes.A, exchange));
    }
}
