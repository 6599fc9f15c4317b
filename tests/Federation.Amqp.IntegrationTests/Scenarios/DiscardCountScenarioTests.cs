using Federation.Core.Links;
using Federation.Testing.Brokers;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A link that stops for good deletes its upstream queue and says at warning how many messages that discards (event 1028).
/// The number is the broker's own, from the deletion's reply (queue.delete-ok): it used to be read with a passive declare
/// before the deletion, which missed whatever the upstream exchange routed to the queue in between (a run once found 48
/// of 3,000 messages in no count). The deliveries the link held unacknowledged are in it too: they return to the queue
/// as its consumer's channel closes, before the deletion.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class DiscardCountScenarioTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private const int Published = 3000;
    private const int Prefetch = 1000;
    private const int Late = 20;

    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task An_engine_stop_with_deliveries_held_unacknowledged_counts_every_message_the_deleted_queue_held()
    {
        var exchange = ScenarioContext.UniqueName("fed.discardcount");
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);
        var downstream = await context.BindQueueAsync(nodes.Downstream, exchange, "key");
        var logs = new CapturedLogs();

        // The downstream takes nothing: the link holds up to its prefetch count of deliveries unacknowledged.
        var transport = new HeldDownstreamTransport(new AmqpTransport(), exchange);
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.Downstream, exchange, ("a", nodes.Upstream, u => u.PrefetchCount = Prefetch)), loggerFactory: logs, transport: transport);
        try
        {
            await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
            await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.Upstream, exchange), keys => keys.SequenceEqual(["key"]), "the upstream should hold the downstream's binding");
            var prefix = $"federation: {exchange} -> {nodes.Downstream.ClusterName}";
            var queue = (await Management.WaitAsync(() => Management.NamesAsync(nodes.Upstream, "queues"), names => names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)), "the upstream queue should exist"))
                .Single(n => n.StartsWith(prefix, StringComparison.Ordinal));

            var channel = await context.ChannelAsync(nodes.Upstream, new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
            for (var i = 0; i < Published; i++)
            {
                await ScenarioContext.PublishAsync(channel, exchange, "key", $"m{i}");
            }

            await Poll.UntilAsync(async () => await QueueDepth.OfAsync(nodes.Upstream, queue) == Published ? queue : null, $"the upstream queue should hold all {Published} (ready or unacknowledged)");
            await Poll.UntilAsync(async () => await UnacknowledgedAsync(nodes.Upstream, queue) >= Prefetch / 2 && transport.Waiting > 0 ? queue : null, "the link should hold deliveries unacknowledged");

            // A few more reach the queue while the engine stops, right before the deletion (each confirmed: in the queue).
            var late = 0;
            transport.BeforeQueueDeletion = async deleting =>
            {
                if (deleting == queue)
                {
                    for (; late < Late; late++)
                    {
                        await ScenarioContext.PublishAsync(channel, exchange, "key", $"late{late}");
                    }
                }
            };

            await engine.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(-1, await QueueDepth.OfAsync(nodes.Upstream, queue));
            Assert.Equal(Late, late);
            var discarded = Assert.Single(logs.Entries, e => e.EventId.Id == 1028);
            Assert.Equal(LogLevel.Warning, discarded.Level);

            // Nothing was forwarded, so the deleted queue held every message routed to it: the held deliveries went back to
            // it as the link's consumer closed, and the late ones came after.
            Assert.Equal(0, downstream.Count);
            Assert.True(discarded.Message.Contains($"discards {Published + Late} message(s) it held", StringComparison.Ordinal), discarded.Message);
        }
        finally
        {
            transport.FailHeld();
        }
    }

    /// <summary>How many of the queue's messages are delivered and not yet acknowledged, straight from the node; -1 when it does not exist.</summary>
    private static async Task<int> UnacknowledgedAsync(RabbitMqNode node, string queue)
    {
        var result = await node.CtlAsync(CancellationToken.None, "list_queues", "--no-table-headers", "--quiet", "name", "messages_unacknowledged");
        Assert.True(result.ExitCode == 0, result.Output);
        var line = result.Output.Split('\n').SingleOrDefault(l => l.StartsWith(queue + "\t", StringComparison.Ordinal));
        return line is null ? -1 : int.Parse(line.Split('\t').Last().Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
