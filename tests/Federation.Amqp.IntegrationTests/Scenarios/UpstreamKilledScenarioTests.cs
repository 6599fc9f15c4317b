using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Xunit.Abstractions;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// ack-mode on-confirm when the upstream node crashes mid-stream: persistent messages, confirmed by the upstream, sit in
/// the link's durable upstream queue; the node is killed by pid while the link forwards them and restarted with its data.
/// Nothing may be lost; messages in flight at the kill may arrive twice (at-least-once), and the test reports how many.
/// </summary>
[Collection(RestartScenarioCollection.Name)]
public sealed class UpstreamKilledScenarioTests(RestartScenarioNodesFixture nodes, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Messages = 3000;
    private const int KillAfter = Messages / 30;
    private const int PublishBatch = 250;

    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await nodes.Upstream.StartAsync();
        await context.DisposeAsync();
    }

    [Fact]
    public async Task On_confirm_loses_nothing_when_the_upstream_node_is_killed_mid_stream()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var exchange = ScenarioContext.UniqueName("fed.kill");
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);

        // Downstream: a consumer counting copies per message id, which pulls the trigger once a thirtieth has arrived.
        var copies = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var redelivered = 0;
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumerChannel = await context.ChannelAsync(nodes.Downstream);
        var queue = (await consumerChannel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await consumerChannel.QueueBindAsync(queue, exchange, "key");
        var consumer = new AsyncEventingBasicConsumer(consumerChannel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            copies.AddOrUpdate(delivery.BasicProperties.MessageId!, 1, (_, n) => n + 1);
            if (Trail.Read(delivery.BasicProperties) is [var hop] && hop.Flag("redelivered"))
            {
                Interlocked.Increment(ref redelivered);
            }

            if (copies.Count >= KillAfter)
            {
                killNow.TrySetResult();
            }

            return Task.CompletedTask;
        };
        await consumerChannel.BasicConsumeAsync(queue, autoAck: true, consumer);

        // The link keeps its upstream queue when it stops (resource-cleanup-mode never), so a backlog can be built.
        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { nodes.Upstream.AmqpUri() },
            ReconnectDelaySeconds = 1,
            AckMode = AckMode.OnConfirm,
            PrefetchCount = 10, // a small window keeps the forwarding slow enough for the kill to land mid-stream
            ResourceCleanupMode = ResourceCleanupMode.Never,
        };
        var policy = new FederationPolicy { Pattern = "^" + Regex.Escape(exchange) + "$", ApplyTo = "exchanges", Definition = { FederationUpstream = "up" } };
        options.Policies["fed"] = policy;
        var engine = await context.StartEngineAsync(options);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        var upstreamQueue = $"federation: {exchange} -> {nodes.Downstream.ClusterName}";
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.Upstream, exchange), keys => keys.SequenceEqual(["key"]), "the binding should propagate upstream");

        try
        {
            // Pause the link (its queue and bindings stay upstream) and publish every message, persistent, confirmed.
            options.Policies.Clear();
            await engine.UpdateAsync(options, timeout.Token);
            await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().Count == 0 ? engine : null), "the link should stop");
            await PublishConfirmedAsync(exchange, timeout.Token);

            // Resume; kill the upstream node by pid while the link is forwarding the backlog.
            options.Policies["fed"] = policy;
            await engine.UpdateAsync(options, timeout.Token);
            await killNow.Task.WaitAsync(TimeSpan.FromSeconds(60), timeout.Token);
            await nodes.Upstream.KillAsync();
            var atKill = copies.Count;
            output.WriteLine($"killed the upstream node after {atKill} of {Messages} distinct messages had arrived");
            Assert.InRange(atKill, KillAfter, Messages - 1);

            await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Error);
            var restart = Stopwatch.StartNew();
            await nodes.Upstream.StartAsync(timeout.Token);
            output.WriteLine($"upstream node restarted in {restart.Elapsed.TotalSeconds:F1} s");
            await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
            await Poll.UntilAsync(() => Task.FromResult(copies.Count >= Messages ? copies : null), $"all {Messages} distinct messages should arrive; have {copies.Count}", TimeSpan.FromSeconds(120));
            await Management.WaitAsync(() => QueueDepth.OfAsync(nodes.Upstream, upstreamQueue), n => n == 0, "the upstream queue should drain");

            var duplicates = copies.Values.Sum(n => n - 1);
            output.WriteLine($"delivered {copies.Values.Sum()} copies of {copies.Count} distinct messages: {duplicates} duplicates, {redelivered} copies marked redelivered in x-received-from; lost: {Messages - copies.Count}");
            Assert.Equal(Enumerable.Range(0, Messages).Select(Id).Order(StringComparer.Ordinal), copies.Keys.Order(StringComparer.Ordinal));
        }
        finally
        {
            // resource-cleanup-mode never leaves the queue behind; the shared node should not keep it.
            await nodes.Upstream.StartAsync(CancellationToken.None);
            var channel = await context.ChannelAsync(nodes.Upstream);
            await channel.QueueDeleteAsync(upstreamQueue);
        }
    }

    private static string Id(int i) => $"m{i:D5}";

    private async Task PublishConfirmedAsync(string exchange, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{nodes.Upstream.AmqpPort}/") };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        var body = Encoding.UTF8.GetBytes(new string('x', 256));
        var batch = new List<Task>(PublishBatch);
        for (var i = 0; i < Messages; i++)
        {
            var properties = new BasicProperties { MessageId = Id(i), DeliveryMode = DeliveryModes.Persistent };
            batch.Add(channel.BasicPublishAsync(exchange, "key", mandatory: false, properties, body, cancellationToken).AsTask());
            if (batch.Count == PublishBatch || i == Messages - 1)
            {
                await Task.WhenAll(batch); // every message confirmed by the upstream before the crash
                batch.Clear();
            }
        }
    }
}
