using Federation.Core.Links;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>exchange_SUITE restart_upstream, on real nodes: the upstream node is stopped and started again.</summary>
[Collection(RestartScenarioCollection.Name)]
public sealed class RestartUpstreamScenarioTests(RestartScenarioNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await nodes.Upstream.StartAsync();
        await context.DisposeAsync();
    }

    [Fact]
    public async Task Bindings_changed_while_the_upstream_was_down_are_resynchronised()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var exchange = ScenarioContext.UniqueName("fed.restart");
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);
        var stays = await context.BindQueueAsync(nodes.Downstream, exchange, "stays");
        var goes = await context.BindQueueAsync(nodes.Downstream, exchange, "goes");
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, null)));
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.Upstream, exchange), keys => keys.SequenceEqual(["goes", "stays"]), "goes and stays should propagate");

        await nodes.Upstream.StopAsync(timeout.Token);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Error);
        var comes = await context.BindQueueAsync(nodes.Downstream, exchange, "comes");
        await goes.Channel.QueueUnbindAsync(goes.Queue, exchange, "goes");
        await nodes.Upstream.StartAsync(timeout.Token);

        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.Upstream, exchange), keys => keys.SequenceEqual(["comes", "stays"]), "the upstream should converge to comes + stays");

        var publisher = await context.ChannelAsync(nodes.Upstream);
        foreach (var key in new[] { "stays", "goes", "comes" })
        {
            await ScenarioContext.PublishAsync(publisher, exchange, key, key.ToUpperInvariant());
        }

        await Poll.UntilAsync(() => Task.FromResult(stays.Count >= 1 && comes.Count >= 1 ? stays : null), $"STAYS and COMES should arrive: stays [{string.Join(",", stays.Bodies)}] comes [{string.Join(",", comes.Bodies)}]");
        await QueueProbe.ExpectNoMoreAsync([(stays, 1), (comes, 1), (goes, 0)]);
        Assert.Equal(["STAYS"], stays.Bodies);
        Assert.Equal(["COMES"], comes.Bodies);
        Assert.Empty(goes.Bodies);
    }
}
