using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A message the upstream takes but whose body is over the downstream's <c>max_message_size</c>. RabbitMQ closes the
/// link's publishing channel over it (406); treated as a failed publish, the link restarted, the upstream redelivered the
/// message first, and it failed again, forever, holding every message behind it. Now the link refuses it as too large:
/// rejected upstream without requeueing (the upstream queue's dead-letter exchange keeps it), counted as <c>too_large</c>,
/// and every other message arrives, in order.
/// </summary>
public sealed class OverMaxMessageSizeTests(SmallMessageLimitNodesFixture nodes) : IClassFixture<SmallMessageLimitNodesFixture>, IAsyncLifetime
{
    private const int Messages = 30;
    private const int Big = 10;
    private readonly List<IAsyncDisposable> resources = [];
    private readonly List<string> policies = [];
    private readonly CapturedLogs logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        foreach (var policy in policies)
        {
            await nodes.Upstream.CtlAsync(CancellationToken.None, "clear_policy", policy);
        }

        logs.Dispose();
    }

    [Theory]
    [InlineData(true)]   // the ledger's transactional units
    [InlineData(false)]  // the confirming publisher
    public async Task A_message_over_the_downstream_max_message_size_is_rejected_upstream_and_the_messages_behind_it_arrive(bool duplicateSuppression)
    {
        var exchange = $"fed.size.{Guid.NewGuid():N}";
        var (_, downstream) = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        var (_, upstream) = await OpenChannelAsync(nodes.Upstream.AmqpPort);
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await downstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await downstream.QueueBindAsync(queue, exchange, "#");

        // What the link rejects without requeueing goes to the upstream queue's dead-letter exchange.
        var deadLetters = exchange + ".dlx";
        await upstream.ExchangeDeclareAsync(deadLetters, ExchangeType.Fanout, durable: false, autoDelete: false);
        var deadLettered = (await upstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await upstream.QueueBindAsync(deadLettered, deadLetters, string.Empty);
        var policy = exchange + ".policy";
        var set = await nodes.Upstream.CtlAsync(CancellationToken.None, "set_policy", "--apply-to", "queues", policy,
            "^" + Regex.Escape(UpstreamQueue(exchange)) + "$", JsonSerializer.Serialize(new Dictionary<string, string> { ["dead-letter-exchange"] = deadLetters }));
        Assert.True(set.ExitCode == 0, set.Output);
        policies.Add(policy);

        var engine = await StartEngineAsync(exchange, duplicateSuppression);
        var running = await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), "the link should run");

        // Until the binding has propagated upstream, publishes are dropped there: publish probes until one arrives.
        var attempt = 0;
        await Poll.UntilAsync(async () =>
        {
            await upstream.BasicPublishAsync(exchange, "probe", true, new BasicProperties { MessageId = $"probe{attempt++}" }, Encoding.UTF8.GetBytes("probe"));
            return await downstream.BasicGetAsync(queue, autoAck: true);
        }, "a probe published upstream should arrive downstream");

        // Back to back, so that messages before and after the big one are in flight with it on the link's channel (or in
        // its unit), which the broker closes over it.
        var bigBody = "BIG" + new string('x', 2 * SmallMessageLimitNodesFixture.DownstreamLimit);
        for (var i = 0; i < Messages; i++)
        {
            var body = i == Big ? bigBody : $"m{i}";
            await upstream.BasicPublishAsync(exchange, "key", true, new BasicProperties { MessageId = $"m{i}" }, Encoding.UTF8.GetBytes(body));
        }

        string[] expected = [.. Enumerable.Range(0, Messages).Where(i => i != Big).Select(i => $"m{i}")];
        var arrived = new List<string>();
        await Poll.UntilAsync(async () =>
        {
            while (await downstream.BasicGetAsync(queue, autoAck: true) is { } got)
            {
                // A probe published while the binding propagated may still come in after the first one.
                if (got.BasicProperties.MessageId?.StartsWith("probe", StringComparison.Ordinal) != true)
                {
                    arrived.Add(got.BasicProperties.MessageId ?? "?");
                }
            }

            return expected.All(arrived.Contains) ? arrived : null;
        }, "every message but the big one should arrive downstream", TimeSpan.FromSeconds(60));

        // The big one is kept by the upstream's dead-letter exchange: rejected, not requeued, and never sent again.
        var dead = await Poll.UntilAsync(() => upstream.BasicGetAsync(deadLettered, autoAck: true), "the big message should be dead-lettered upstream");
        Assert.Equal(bigBody, Encoding.UTF8.GetString(dead.Body.Span));
        await Poll.UntilAsync(async () => await upstream.MessageCountAsync(UpstreamQueue(exchange)) == 0 ? "" : null, "the upstream queue should be drained");
        await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), "the link should run again");
        Assert.Null(await upstream.BasicGetAsync(deadLettered, autoAck: true));
        Assert.DoesNotContain(arrived, id => id == $"m{Big}");
        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("too_large"));
        var connectionLost = ClientCloseOkRace.CostThePublishingConnection(logs);
        if (duplicateSuppression)
        {
            // The unit is refused whole and committed again without it, on a new channel: exactly once, in order, and
            // the link never restarted (unless the client's race cost the publishing connection, see ClientCloseOkRace).
            Assert.Equal(expected, arrived);
            if (!connectionLost)
            {
                Assert.Equal(running.Since, link.Since);
            }
        }
        else
        {
            // The broker dropped what followed the big one on the closed channel; the link restarted once and the upstream
            // redelivered what was unconfirmed (at-least-once: some may arrive twice), in order.
            Assert.Equal(expected, arrived.Distinct());
        }

        // The limit is known now: another big message is refused before it is written, and the link goes on as it is.
        var since = link.Since;
        await upstream.BasicPublishAsync(exchange, "key", true, new BasicProperties { MessageId = "big-again" }, Encoding.UTF8.GetBytes(bigBody));
        await upstream.BasicPublishAsync(exchange, "key", true, new BasicProperties { MessageId = "after" }, Encoding.UTF8.GetBytes("after"));
        await Poll.UntilAsync(async () => await downstream.BasicGetAsync(queue, autoAck: true) is { } got && got.BasicProperties.MessageId == "after" ? got : null, "the message after the second big one should arrive");
        await Poll.UntilAsync(() => upstream.BasicGetAsync(deadLettered, autoAck: true), "the second big message should be dead-lettered upstream");
        link = Assert.Single(engine.GetLinks());
        Assert.Equal(2, link.DroppedMessages?.GetValueOrDefault("too_large"));
        if (!connectionLost && !ClientCloseOkRace.CostThePublishingConnection(logs))
        {
            Assert.Equal(since, link.Since);
        }

        Assert.Equal(LinkState.Running, link.State);
    }

    private string UpstreamQueue(string exchange) => $"federation: {exchange} -> {nodes.Downstream.ClusterName}";

    private async Task<FederationEngine> StartEngineAsync(string exchange, bool duplicateSuppression)
    {
        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1, DuplicateSuppression = duplicateSuppression };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + Regex.Escape(exchange) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var engine = new FederationEngine(options, [new AmqpTransport()], logs);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private async Task<(IConnection Connection, IChannel Channel)> OpenChannelAsync(int port)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync();
        resources.Add(channel);
        return (connection, channel);
    }
}
