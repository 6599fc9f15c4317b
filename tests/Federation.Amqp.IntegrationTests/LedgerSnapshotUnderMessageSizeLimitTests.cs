using System.Text;
using System.Text.RegularExpressions;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A link with duplicate suppression reads its ledger back when it starts and writes the window as a snapshot. Written as
/// one message, a snapshot of more identities than the downstream's <c>max_message_size</c> holds (a full window is 2.4 MB)
/// was refused (<c>406 PRECONDITION_FAILED - message size ... is larger than configured max size</c>), and the link failed
/// at every start until the limit was raised: nothing crossed after its first restart (black-box run, 7 Dec 2026). Now the
/// snapshot comes in parts of at most 64 KiB.
/// </summary>
public sealed class LedgerSnapshotUnderMessageSizeLimitTests(LedgerSizeLimitNodesFixture nodes) : IClassFixture<LedgerSizeLimitNodesFixture>, IAsyncLifetime
{
    // 5,000 identities are 120 kB in one record, over the downstream's limit.
    private const int Messages = 5_000;
    private readonly List<IAsyncDisposable> resources = [];
    private readonly CapturedLogs logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        logs.Dispose();
    }

    [Fact]
    public async Task A_link_whose_ledger_snapshot_is_over_the_downstream_max_message_size_starts_again_and_forwards()
    {
        var exchange = $"fed.snapshot.{Guid.NewGuid():N}";
        var downstream = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        var upstream = await OpenChannelAsync(nodes.Upstream.AmqpPort);
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        var queue = (await downstream.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await downstream.QueueBindAsync(queue, exchange, "#");

        var engine = await StartEngineAsync(exchange);
        await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), "the link should run");
        var attempt = 0;
        await Poll.UntilAsync(async () =>
        {
            await upstream.BasicPublishAsync(exchange, "probe", true, new BasicProperties { MessageId = $"probe{attempt++}" }, Encoding.UTF8.GetBytes("probe"));
            return await downstream.BasicGetAsync(queue, autoAck: true);
        }, "a probe published upstream should arrive downstream");

        for (var i = 0; i < Messages; i++)
        {
            await upstream.BasicPublishAsync(exchange, "key", true, new BasicProperties { MessageId = $"m{i}" }, Encoding.UTF8.GetBytes($"m{i}"));
        }

        var arrived = new HashSet<string>(StringComparer.Ordinal);
        await Poll.UntilAsync(async () =>
        {
            while (await downstream.BasicGetAsync(queue, autoAck: true) is { } got)
            {
                arrived.Add(got.BasicProperties.MessageId ?? "?");
            }

            return arrived.Count(id => id.StartsWith('m')) == Messages ? arrived : null;
        }, "every message should arrive downstream", TimeSpan.FromSeconds(60));

        // The restart reads the unit records back and compacts them into a snapshot of every identity.
        var before = Assert.Single(engine.GetLinks());
        Assert.True(await engine.RestartLinkAsync(before.Id, CancellationToken.None));
        var restarted = await Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running && l.Since > before.Since)),
            "the link should run again after its restart, its snapshot written in parts under the downstream's max_message_size",
            TimeSpan.FromSeconds(60));
        Assert.Null(restarted.Error);

        // The window survived the snapshot: a repeat of a forwarded id is dropped, a new message crosses.
        await upstream.BasicPublishAsync(exchange, "key", true, new BasicProperties { MessageId = "m0" }, Encoding.UTF8.GetBytes("m0 again"));
        await upstream.BasicPublishAsync(exchange, "key", true, new BasicProperties { MessageId = "after" }, Encoding.UTF8.GetBytes("after"));
        var later = new List<string>();
        await Poll.UntilAsync(async () =>
        {
            while (await downstream.BasicGetAsync(queue, autoAck: true) is { } got)
            {
                later.Add(got.BasicProperties.MessageId ?? "?");
            }

            return later.Contains("after") ? later : null;
        }, "the message after the restart should arrive", TimeSpan.FromSeconds(60));
        Assert.DoesNotContain("m0", later);
        Assert.Equal(1, Assert.Single(engine.GetLinks()).DroppedMessages?.GetValueOrDefault("duplicate"));
    }

    private async Task<FederationEngine> StartEngineAsync(string exchange)
    {
        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1 };
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

    private async Task<IChannel> OpenChannelAsync(int port)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync();
        resources.Add(channel);
        return channel;
    }
}
