using Federation.Core.Links;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A downstream RabbitMQ node renamed with <c>rabbitmqctl set_cluster_name</c> while the engine runs, its connections then
/// closed: the engine connects again under the new name (event 2027) and every link starts anew with a new upstream
/// queue. The link under the new name forwards what the old queue buffered, then deletes it: nothing published around
/// the rename is lost, and no queue is left on the upstream (until 6 Dec 2026 it stayed there, filling, for good).
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class DownstreamSelfRenameScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private const int PerPhase = 200;

    private readonly ScenarioContext context = new();
    private RabbitMqNode? downstream;

    // Its own downstream node: renaming a node the collection shares would change the names other tests rely on.
    public async Task InitializeAsync() => downstream = await RabbitMqNode.StartNewAsync();

    public async Task DisposeAsync()
    {
        await context.DisposeAsync();
        if (downstream is not null)
        {
            await downstream.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_downstream_renamed_by_rabbitmqctl_loses_nothing_and_leaves_no_old_queue()
    {
        var node = downstream!;
        var exchange = ScenarioContext.UniqueName("fed.selfrename");
        await context.DeclareExchangeAsync(node, exchange);
        context.DeleteLater(nodes.A, exchange);

        // A named queue, not the exclusive probe: closing every connection of the node must not take it away.
        var queue = ScenarioContext.UniqueName("selfrename.probe");
        var setup = await context.ChannelAsync(node);
        await setup.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
        await setup.QueueBindAsync(queue, exchange, "key");
        var before = new QueueProbe(setup, queue);
        await before.StartAsync();

        var logs = new CapturedLogs();
        var engine = await context.StartEngineAsync(ScenarioContext.Options(node, exchange, ("a", nodes.A, null)), loggerFactory: logs);
        var first = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key"]), "A should hold the downstream's binding");
        var publisher = await context.ChannelAsync(nodes.A);
        var published = new List<string>();
        async Task PublishAsync(string phase)
        {
            for (var i = 0; i < PerPhase; i++)
            {
                var body = $"{phase}-{i}";
                await ScenarioContext.PublishAsync(publisher, exchange, "key", body);
                published.Add(body);
            }
        }

        await PublishAsync("before");
        var renamed = node.ClusterName + "-renamed";
        var rename = await node.CtlAsync(CancellationToken.None, "set_cluster_name", renamed);
        Assert.True(rename.ExitCode == 0, rename.Output);
        var close = await node.CtlAsync(CancellationToken.None, "close_all_connections", "--global", "the test renamed the node");
        Assert.True(close.ExitCode == 0, close.Output);
        await PublishAsync("around");

        var second = await Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks() is [{ State: LinkState.Running } link] && link.Id != first.Id ? link : null),
            $"the link should run under the new name; links: {string.Join("; ", engine.GetLinks().Select(l => $"{l.Id} {l.State} {l.Error}"))}",
            TimeSpan.FromSeconds(60));
        await PublishAsync("after");

        var after = new QueueProbe(await context.ChannelAsync(node), queue);
        await after.StartAsync();
        await Poll.UntilAsync(
            () => Task.FromResult(published.Except(before.Bodies).Except(after.Bodies).Any() ? null : after),
            $"all {published.Count} should arrive; missing: {string.Join(", ", published.Except(before.Bodies).Except(after.Bodies).Take(10))}",
            TimeSpan.FromSeconds(60));
        var oldQueue = $"federation: {exchange} -> {node.ClusterName}";
        await Management.WaitAsync(() => Management.NamesAsync(nodes.A, "queues"), names => !names.Any(n => n.StartsWith(oldQueue + ":", StringComparison.Ordinal) || n == oldQueue), "the old upstream queue should be deleted once forwarded");
        Assert.Contains($"'{renamed}', was '{node.ClusterName}'", Assert.Single(logs.Entries, e => e.EventId.Id == 2027).Message, StringComparison.Ordinal);

        // Logged once the forwarding has returned, which deleted the queue just before.
        var forwarded = await Poll.UntilAsync(() => Task.FromResult(logs.Entries.SingleOrDefault(e => e.EventId.Id == 2033)), "the forwarding should be logged (event 2033)");
        Assert.Contains($"link {first.Id},", forwarded.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id is 1028 or 2020);
        Assert.NotEqual(first.Id, second.Id);
    }
}
