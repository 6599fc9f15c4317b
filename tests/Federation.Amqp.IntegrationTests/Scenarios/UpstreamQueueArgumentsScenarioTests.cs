using Federation.Core.Links;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// <c>expires</c> and <c>message-ttl</c> reach RabbitMQ as the upstream queue's <c>x-expires</c> and <c>x-message-ttl</c>,
/// read back from the broker (A upstream, B downstream); without them the queue has neither argument.
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class UpstreamQueueArgumentsScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Theory]
    [InlineData(600000L, 30000L)]
    [InlineData(null, null)]
    public async Task Expires_and_message_ttl_are_the_upstream_queues_arguments_on_the_broker(long? expires, long? messageTtl)
    {
        var exchange = ScenarioContext.UniqueName("fed.queueargs");
        await context.DeclareExchangeAsync(nodes.B, exchange);
        context.DeleteLater(nodes.A, exchange);
        await context.BindQueueAsync(nodes.B, exchange, "key");
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, u =>
        {
            u.Expires = expires;
            u.MessageTtl = messageTtl;
        })));
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);

        var prefix = $"federation: {exchange} -> {nodes.B.ClusterName}";
        var arguments = await Management.WaitAsync(() => Management.QueueArgumentsAsync(nodes.A, prefix), a => a.Count > 0, "the upstream queue should exist");

        Assert.Equal(expires?.ToString(System.Globalization.CultureInfo.InvariantCulture), arguments.GetValueOrDefault("x-expires"));
        Assert.Equal(messageTtl?.ToString(System.Globalization.CultureInfo.InvariantCulture), arguments.GetValueOrDefault("x-message-ttl"));
    }
}
