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
/// Issue 11's first bar: 20,000 persistent messages piled up in the link's upstream queue, on-confirm, prefetch 1000; the
/// upstream node is killed by pid while the link drains them and restarted with its data. The node had not made all of the
/// link's acks durable, so it delivers again what the link had already forwarded. With duplicate suppression (the default)
/// the downstream gets every message exactly once; without it the same run shows the duplicates. Both counts are printed.
/// </summary>
[Collection(RestartScenarioCollection.Name)]
public sealed class DuplicateSuppressionUpstreamKillTests(RestartScenarioNodesFixture nodes, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Messages = 20_000;
    private const int KillAfter = Messages / 5;
    private const int PublishBatch = 1000;

    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await nodes.Upstream.StartAsync();
        await context.DisposeAsync();
    }

    [Fact]
    public async Task Upstream_node_killed_mid_drain_delivers_every_message_exactly_once_with_suppression()
    {
        var off = await RunAsync(suppression: false, withMessageId: true);
        var on = await RunAsync(suppression: true, withMessageId: true);
        output.WriteLine($"upstream kill -9 mid-drain of {Messages}: duplicates with suppression off {off.Duplicates}, on {on.Duplicates}; lost off {off.Lost}, on {on.Lost}");

        Assert.Equal(0, off.Lost);
        Assert.Equal(0, on.Lost);
        Assert.Equal(0, on.Duplicates);
    }

    [Fact]
    public async Task Upstream_node_killed_mid_drain_delivers_every_message_without_a_message_id_exactly_once()
    {
        // Without a message-id the link knows a message by its fingerprint, and checks only deliveries the broker flags as
        // redelivered: RabbitMQ flags what it recovers after the crash, so the repeats are still caught.
        var on = await RunAsync(suppression: true, withMessageId: false);
        output.WriteLine($"upstream kill -9 mid-drain of {Messages} without message-ids: duplicates {on.Duplicates}, lost {on.Lost}");

        Assert.Equal(0, on.Lost);
        Assert.Equal(0, on.Duplicates);
    }

    private async Task<(int Duplicates, int Lost)> RunAsync(bool suppression, bool withMessageId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var clock = Stopwatch.StartNew();
        var exchange = ScenarioContext.UniqueName(suppression ? "fed.dedup.on" : "fed.dedup.off");
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);

        var copies = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var killNow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var consumerChannel = await context.ChannelAsync(nodes.Downstream);
        var queue = (await consumerChannel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await consumerChannel.QueueBindAsync(queue, exchange, "key");
        var consumer = new AsyncEventingBasicConsumer(consumerChannel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            copies.AddOrUpdate(Encoding.UTF8.GetString(delivery.Body.Span)[..6], 1, (_, n) => n + 1);
            if (copies.Count >= KillAfter)
            {
                killNow.TrySetResult();
            }

            return Task.CompletedTask;
        };
        await consumerChannel.BasicConsumeAsync(queue, autoAck: true, consumer);

        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { nodes.Upstream.AmqpUri() },
            ReconnectDelaySeconds = 0.5,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
            AckMode = AckMode.OnConfirm,
            PrefetchCount = 1000,
            ResourceCleanupMode = ResourceCleanupMode.Never,
            DuplicateSuppression = suppression,
        };
        var policy = new FederationPolicy { Pattern = "^" + Regex.Escape(exchange) + "$", ApplyTo = "exchanges", Definition = { FederationUpstream = "up" } };
        options.Policies["fed"] = policy;
        var engine = await context.StartEngineAsync(options);
        var linkId = (await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running)).Id;
        var upstreamQueue = $"federation: {exchange} -> {nodes.Downstream.ClusterName}";
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.Upstream, exchange), keys => keys.SequenceEqual(["key"]), "the binding should propagate upstream");

        try
        {
            // Pause the link (its queue and binding stay upstream) and pile up every message there, persistent and confirmed.
            options.Policies.Clear();
            await engine.UpdateAsync(options, timeout.Token);
            await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().Count == 0 ? engine : null), "the link should stop");
            await PublishConfirmedAsync(exchange, withMessageId, timeout.Token);
            output.WriteLine($"{clock.Elapsed}: {Messages} piled up upstream (suppression {(suppression ? "on" : "off")})");

            options.Policies["fed"] = policy;
            await engine.UpdateAsync(options, timeout.Token);
            await killNow.Task.WaitAsync(TimeSpan.FromSeconds(60), timeout.Token);
            await nodes.Upstream.KillAsync();
            var atKill = copies.Count;
            output.WriteLine($"{clock.Elapsed}: killed the upstream node after {atKill} distinct messages had arrived");
            Assert.InRange(atKill, KillAfter, Messages - 1);

            await nodes.Upstream.StartAsync(timeout.Token);
            output.WriteLine($"{clock.Elapsed}: upstream node restarted");
            await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
            await Poll.UntilAsync(() => Task.FromResult(copies.Count >= Messages ? copies : null), $"all {Messages} distinct messages should arrive; have {copies.Count}", TimeSpan.FromSeconds(60));
            await Management.WaitAsync(() => QueueDepth.OfAsync(nodes.Upstream, upstreamQueue), n => n == 0, "the upstream queue should drain");
            var link = engine.GetLinks().Single(l => l.Exchange == exchange);
            output.WriteLine($"{clock.Elapsed}: drained; link drops: {string.Join(", ", link.DroppedMessages ?? new Dictionary<string, long>())}");

            // Copies still on their way would be counted late: wait until the count stands still (not a fixed sleep).
            await SettledAsync(copies);
            var duplicates = copies.Values.Sum(n => n - 1);
            var lost = Messages - copies.Count;
            output.WriteLine($"suppression {(suppression ? "on" : "off")}: {copies.Values.Sum()} copies of {copies.Count} distinct messages: {duplicates} duplicates, {lost} lost");
            return (duplicates, lost);
        }
        finally
        {
            await nodes.Upstream.StartAsync(CancellationToken.None);
            var upstreamChannel = await context.ChannelAsync(nodes.Upstream);
            await upstreamChannel.QueueDeleteAsync(upstreamQueue);
            var downstreamChannel = await context.ChannelAsync(nodes.Downstream);
            await downstreamChannel.QueueDeleteAsync(UpstreamLedgerName(exchange, linkId));
        }
    }

    private static string UpstreamLedgerName(string exchange, string linkId) => $"federation: {exchange} <- up ledger {linkId}";

    private static async Task SettledAsync(ConcurrentDictionary<string, int> copies)
    {
        var last = -1;
        var stable = Stopwatch.StartNew();
        await Poll.UntilAsync(() =>
        {
            var now = copies.Values.Sum();
            if (now != last)
            {
                last = now;
                stable.Restart();
            }

            return Task.FromResult(stable.Elapsed > TimeSpan.FromSeconds(2) ? copies : null);
        }, "the downstream count should settle", TimeSpan.FromSeconds(30));
    }

    private static string Id(int i) => $"m{i:D5}";

    private async Task PublishConfirmedAsync(string exchange, bool withMessageId, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{nodes.Upstream.AmqpPort}/") };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        var padding = new string('x', 250);
        var batch = new List<Task>(PublishBatch);
        for (var i = 0; i < Messages; i++)
        {
            var properties = new BasicProperties { MessageId = withMessageId ? Id(i) : null, DeliveryMode = DeliveryModes.Persistent };
            var body = Encoding.UTF8.GetBytes(Id(i) + padding);
            batch.Add(channel.BasicPublishAsync(exchange, "key", mandatory: false, properties, body, cancellationToken).AsTask());
            if (batch.Count == PublishBatch || i == Messages - 1)
            {
                await Task.WhenAll(batch);
                batch.Clear();
            }
        }
    }
}
