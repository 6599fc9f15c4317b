using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Links;
using Federation.Core.Model;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A downstream queue that refuses messages (<c>x-max-length</c> with <c>x-overflow: reject-publish</c> or
/// <c>reject-publish-dlx</c>) under duplicate suppression, the default. The link forwards in AMQP transactions, and
/// RabbitMQ's tx.commit is not atomic across queues: the full queue's refusal fails the commit with 406 "partial tx
/// completion", yet the unit's ledger record, in the same transaction, is stored. Before the fix the upstream's
/// redeliveries were then dropped as duplicates and the refused messages were lost without a word. Now the unit's record
/// is revoked and the messages are forwarded again until the queue has room, as the plugin does with a nacked message: a
/// queue that took one gets it twice. A is the upstream, B the downstream.
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class DuplicateSuppressionRejectPublishTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    private const int Messages = 5;
    private const int MaxLength = 2;

    private readonly ScenarioContext context = new();
    private readonly List<string> queues = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        var channel = await context.ChannelAsync(nodes.B);
        foreach (var queue in queues)
        {
            await channel.QueueDeleteAsync(queue);
        }

        await context.DisposeAsync();
    }

    [Theory]
    [InlineData("reject-publish", false)]
    [InlineData("reject-publish", true)]
    [InlineData("reject-publish-dlx", false)]
    public async Task Messages_a_full_queue_refused_are_forwarded_again_once_it_has_room_not_dropped_as_duplicates(string overflow, bool withMessageId)
    {
        var (engine, logs, exchange) = await StartAsync();
        var limited = await DeclareQueueAsync(exchange, new Dictionary<string, object?> { ["x-max-length"] = MaxLength, ["x-overflow"] = overflow });

        await PublishAsync(exchange, withMessageId);
        await PartialCommitAsync(logs);

        // The reviewer's check: only now is the queue drained. Every message arrives, none was dropped as a duplicate, and
        // the upstream queue empties.
        var arrived = await DrainAsync(limited);
        await AllArriveAsync(arrived);
        Assert.Equal(Expected(), arrived.Keys.Order(StringComparer.Ordinal));
        await AssertSettledAsync(engine, exchange, logs);
    }

    [Fact]
    public async Task A_message_one_of_two_queues_refused_reaches_both_and_the_accepting_queue_gets_copies()
    {
        var (engine, logs, exchange) = await StartAsync();
        var open = await DeclareQueueAsync(exchange, null);
        var limited = await DeclareQueueAsync(exchange, new Dictionary<string, object?> { ["x-max-length"] = MaxLength, ["x-overflow"] = "reject-publish" });
        var openArrived = await DrainAsync(open);

        await PublishAsync(exchange, withMessageId: false);
        await PartialCommitAsync(logs);

        var limitedArrived = await DrainAsync(limited);
        await AllArriveAsync(limitedArrived);
        await AssertSettledAsync(engine, exchange, logs);
        Assert.Equal(Expected(), limitedArrived.Keys.Order(StringComparer.Ordinal));
        // The queue that took every message of a partly committed unit gets them again with the retry, as with the plugin.
        Assert.Equal(Expected(), openArrived.Keys.Order(StringComparer.Ordinal));
        Assert.True(openArrived.Values.Sum() > Messages, $"the accepting queue should have copies; got {string.Join(",", openArrived)}");
    }

    private static string[] Expected() => [.. Enumerable.Range(0, Messages).Select(i => $"order-{i}")];

    private async Task<(Federation.Core.FederationEngine Engine, CapturedLogs Logs, string Exchange)> StartAsync()
    {
        var exchange = ScenarioContext.UniqueName("fed.dedup.reject");
        await context.DeclareExchangeAsync(nodes.B, exchange);
        context.DeleteLater(nodes.A, exchange);
        var logs = new CapturedLogs();
        // The defaults that matter: on-confirm with duplicate suppression. A short fixed delay keeps the retries quick.
        var engine = await context.StartEngineAsync(
            ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, d =>
            {
                d.AckMode = AckMode.OnConfirm;
                d.DuplicateSuppression = true;
                d.ReconnectDelaySeconds = 0.5;
                d.ReconnectBackoff = ReconnectBackoffMode.Fixed;
            })),
            loggerFactory: logs);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        return (engine, logs, exchange);
    }

    private async Task<string> DeclareQueueAsync(string exchange, IDictionary<string, object?>? arguments)
    {
        var channel = await context.ChannelAsync(nodes.B);
        var queue = ScenarioContext.UniqueName("orders.limited");
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments);
        queues.Add(queue);
        await channel.QueueBindAsync(queue, exchange, "key");
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key"]), "the binding should propagate upstream");
        return queue;
    }

    private async Task PublishAsync(string exchange, bool withMessageId)
    {
        var publisher = await context.ChannelAsync(nodes.A);
        for (var i = 0; i < Messages; i++)
        {
            var properties = new BasicProperties { DeliveryMode = DeliveryModes.Persistent, MessageId = withMessageId ? $"id-{i}" : null };
            await ScenarioContext.PublishAsync(publisher, exchange, "key", $"order-{i}", properties);
        }
    }

    /// <summary>Waits until the full queue has failed a commit: the case under test happened (not only a quick drain).</summary>
    private static Task<CapturedLogs.Entry> PartialCommitAsync(CapturedLogs logs) =>
        Poll.UntilAsync(
            () => Task.FromResult(logs.Entries.FirstOrDefault(e => e.EventId.Id == 1002 && e.Message.Contains("partial tx completion", StringComparison.Ordinal))),
            "the full queue should fail a unit's commit with 406 partial tx completion",
            TimeSpan.FromSeconds(60));

    /// <summary>Waits for every message to arrive in the limited queue; a failure says which did.</summary>
    private static async Task AllArriveAsync(ConcurrentDictionary<string, int> arrived)
    {
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(arrived.Count >= Messages ? arrived : null), "all messages should arrive", TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"all {Messages} messages should arrive in the limited queue; have [{string.Join(",", arrived.Keys.Order(StringComparer.Ordinal))}]");
        }
    }

    /// <summary>Consumes the queue from now on; returns each body with how many times it arrived.</summary>
    private async Task<ConcurrentDictionary<string, int>> DrainAsync(string queue)
    {
        var arrived = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var channel = await context.ChannelAsync(nodes.B);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            arrived.AddOrUpdate(Encoding.UTF8.GetString(delivery.Body.Span), 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        return arrived;
    }

    private async Task AssertSettledAsync(Federation.Core.FederationEngine engine, string exchange, CapturedLogs logs)
    {
        var upstreamQueue = $"federation: {exchange} -> {nodes.B.ClusterName}";
        await Management.WaitAsync(() => QueueDepth.OfAsync(nodes.A, upstreamQueue), n => n == 0, "the upstream queue should empty");
        var link = engine.GetLinks().Single(l => l.Exchange == exchange);
        Assert.False(link.DroppedMessages?.ContainsKey("duplicate") ?? false, $"nothing should be dropped as a duplicate; drops: {string.Join(", ", link.DroppedMessages ?? new Dictionary<string, long>())}");

        // The operator is told, at warning (once per episode; later ones go to debug), why messages went back and may arrive twice.
        var warning = logs.Entries.First(e => e.EventId.Id == 1029);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(exchange, warning.Message, StringComparison.Ordinal);
        Assert.Contains("partial tx completion", warning.Message, StringComparison.Ordinal);
    }
}
