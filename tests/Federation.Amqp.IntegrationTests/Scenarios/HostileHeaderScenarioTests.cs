using System.Collections;
using System.Text;
using System.Text.RegularExpressions;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// Header and property values that RabbitMQ accepts but that a .NET client finds awkward cross our link unchanged, as
/// they cross the plugin's; and one that RabbitMQ.Client cannot read at all costs one counted drop, not the link.
/// </summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class HostileHeaderScenarioTests(ThreeNodesFixture nodes) : IAsyncLifetime
{
    // Milliseconds where seconds belong (amqplib's timestamp: Date.now()): after the year 9999 as seconds.
    private const long MillisecondsAsSeconds = 1_700_000_000_000;
    private static readonly byte[] NotUtf8 = [0x66, 0xC3, 0x28, 0xFF, 0x6F];
    private readonly ScenarioContext context = new();
    private readonly List<Func<Task>> cleanups = [];
    private PluginFederation? plugin;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (plugin is not null)
        {
            await plugin.DisposeAsync();
        }

        await context.DisposeAsync();
        foreach (var cleanup in cleanups)
        {
            await cleanup();
        }
    }

    /// <summary>
    /// A timestamp property and a timestamp header past the year 9999 (DateTimeOffset's end) were lost: the mapping threw
    /// after the delivery tag was recorded, and a later multiple ack took it away. A long string that is not UTF-8 arrived
    /// with U+FFFD in it. An empty x-received-from (which the client reads as void) was moved to x-invalid-headers. Each
    /// now arrives as the plugin forwards it.
    /// </summary>
    [Fact]
    public async Task Far_future_timestamps_non_utf8_text_and_an_empty_trail_cross_our_link_as_they_cross_the_plugins()
    {
        var exchange = ScenarioContext.UniqueName("fed.hostile");
        await context.DeclareExchangeAsync(nodes.A, exchange);
        await context.DeclareExchangeAsync(nodes.B, exchange);
        await context.DeclareExchangeAsync(nodes.C, exchange);
        var ours = await context.BindQueueAsync(nodes.B, exchange, "key");
        var theirs = await context.BindQueueAsync(nodes.C, exchange, "key");
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, null)));
        plugin = await PluginFederation.StartAsync(nodes.C, nodes.A, exchange, maxHops: 1);
        var running = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key", "key"]), "A should hold B's binding and the plugin's for C");

        var publisher = await context.ChannelAsync(nodes.A);
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "timestamp", new BasicProperties { Timestamp = new AmqpTimestamp(MillisecondsAsSeconds) });
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "top-bit-timestamp", new BasicProperties { Timestamp = new AmqpTimestamp(long.MinValue + 7) });
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "timestamp-header", Headers(("when", new AmqpTimestamp(MillisecondsAsSeconds))));
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "text", Headers(("text", NotUtf8), ("nested", new Dictionary<string, object?> { ["inner"] = NotUtf8 })));
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "empty-trail", Headers(("x-received-from", new List<object?>())));

        string[] kinds = ["timestamp", "top-bit-timestamp", "timestamp-header", "text", "empty-trail"];
        await ours.ExpectAsync(kinds);
        await theirs.ExpectAsync(kinds);
        IReadOnlyBasicProperties Mine(string body) => ours.Received.Single(r => r.Body == body).Properties;
        IReadOnlyBasicProperties Plugins(string body) => theirs.Received.Single(r => r.Body == body).Properties;

        Assert.Equal(MillisecondsAsSeconds, Plugins("timestamp").Timestamp.UnixTime);
        Assert.Equal(MillisecondsAsSeconds, Mine("timestamp").Timestamp.UnixTime);
        Assert.Equal(long.MinValue + 7, Mine("top-bit-timestamp").Timestamp.UnixTime);
        Assert.Equal(Plugins("top-bit-timestamp").Timestamp.UnixTime, Mine("top-bit-timestamp").Timestamp.UnixTime);
        Assert.Equal(new AmqpTimestamp(MillisecondsAsSeconds), Plugins("timestamp-header").Headers!["when"]);
        Assert.Equal(new AmqpTimestamp(MillisecondsAsSeconds), Mine("timestamp-header").Headers!["when"]);

        // A long string comes as byte[] (binary would be a BinaryTableValue): the same type and the same bytes.
        Assert.Equal(NotUtf8, Assert.IsType<byte[]>(Plugins("text").Headers!["text"]));
        Assert.Equal(NotUtf8, Assert.IsType<byte[]>(Mine("text").Headers!["text"]));
        Assert.Equal(NotUtf8, Assert.IsType<byte[]>(((IDictionary<string, object?>)Mine("text").Headers!["nested"]!)["inner"]));

        // The plugin takes an empty trail as a trail: one entry, nothing displaced.
        Assert.Single(Trail.Read(Plugins("empty-trail")));
        Assert.False(Plugins("empty-trail").Headers!.ContainsKey("x-invalid-headers"));
        Assert.Equal(nodes.A.ClusterName, Assert.Single(Trail.Read(Mine("empty-trail"))).Text("cluster-name"));
        Assert.False(Mine("empty-trail").Headers!.ContainsKey("x-invalid-headers"));

        var link = engine.GetLinks().Single(l => l.Exchange == exchange);
        Assert.Equal(running.Since, link.Since);
        Assert.Null(link.DroppedMessages);
    }

    /// <summary>
    /// A header with an AMQP decimal of scale 200 (RabbitMQ takes 0 to 255; .NET's decimal 0 to 28): RabbitMQ.Client
    /// closes the link's upstream connection while it parses the delivery, before the link sees it, and the message went
    /// back to the head of the queue, to be delivered first after every restart: the link never forwarded again. Now the
    /// link removes exactly that message (dead-lettered by the queue's policy), counts it as unreadable, and everything
    /// before and after it arrives, in order. Without acks the broker removed it already: it is counted all the same.
    /// </summary>
    [Theory]
    [InlineData("on-confirm", "decimal")]
    [InlineData("no-ack", "decimal")]
    [InlineData("on-confirm", "nesting")]
    [InlineData("no-ack", "nesting")]
    public async Task A_header_the_client_cannot_read_costs_that_message_and_not_the_link(string ackMode, string culpritKind)
    {
        var exchange = ScenarioContext.UniqueName("fed.unreadable");
        var upstreamQueue = $"federation: {exchange} -> {nodes.B.ClusterName}";
        await context.DeclareExchangeAsync(nodes.A, exchange);
        await context.DeclareExchangeAsync(nodes.B, exchange);
        var ours = await context.BindQueueAsync(nodes.B, exchange, "key");

        // A dead-letter exchange on the upstream queue, by policy, as an operator would set one.
        var deadLetters = await DeadLetterQueueAsync(upstreamQueue);
        var options = ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, upstream => upstream.AckMode = ackMode == "no-ack" ? AckMode.NoAck : AckMode.OnConfirm));
        var engine = await context.StartEngineAsync(options);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key"]), "A should hold B's binding");

        // With acks, a burst around the culprit: some of it is in flight with it when the connection closes, and goes
        // back to the queue with it. Without acks, whatever the client holds when its connection closes is lost with it
        // (at most once), so each side of it is published on its own: before it has arrived, after it was counted.
        var around = ackMode == "no-ack" ? 1 : 20;
        string[] before = [.. Enumerable.Range(1, around).Select(i => $"before-{i}")];
        string[] after = [.. Enumerable.Range(1, around).Select(i => $"after-{i}")];

        // No confirms on this channel: the client then writes the raw properties as they are.
        var publisher = await context.ChannelAsync(nodes.A);
        foreach (var body in before)
        {
            await ScenarioContext.PublishAsync(publisher, exchange, "key", body);
        }

        var channelBefore = "";
        if (ackMode == "no-ack")
        {
            await Poll.UntilAsync(() => Task.FromResult(ours.Count == around ? ours : null), "the message before the culprit should arrive");
            channelBefore = Assert.Single(await ConsumerChannelsAsync(upstreamQueue));
        }

        // A decimal the client cannot represent (it throws while parsing), or arrays nested 20,000 deep, which fit in a
        // 128 KiB frame and which the client's recursive reader would read into a stack overflow, ending this process.
        var culprit = culpritKind == "decimal"
            ? RawContentHeader.WithFields("culprit", RawContentHeader.TableField("outer", RawContentHeader.DecimalField("d", scale: 200, value: 1)))
            : RawContentHeader.WithFields("culprit", RawContentHeader.NestedArraysField("outer", 20_000));
        await publisher.BasicPublishAsync(exchange, "key", mandatory: false, culprit, Encoding.UTF8.GetBytes("culprit"));
        if (ackMode == "no-ack")
        {
            await Poll.UntilAsync(() => Task.FromResult(Dropped(engine, exchange) >= 1 ? engine : null), $"the culprit should be counted as unreadable; links: {Describe(engine)}", TimeSpan.FromSeconds(60));

            // Counted as the client closes its connection, which the broker may not have seen yet: until it has, it goes on
            // delivering to the old consumer, and without acks what it delivers there is lost with the connection (as the
            // drop's cause says). Published once the queue's consumer is on another channel.
            await Management.WaitAsync(
                () => ConsumerChannelsAsync(upstreamQueue),
                channels => channels.Count == 1 && channels[0] != channelBefore,
                "the link should consume on a new connection");
        }

        foreach (var body in after)
        {
            await ScenarioContext.PublishAsync(publisher, exchange, "key", body);
        }

        await Poll.UntilAsync(() => Task.FromResult(ours.Bodies.Contains(after[^1]) ? ours : null), $"'{after[^1]}' should arrive; links: {Describe(engine)}", TimeSpan.FromSeconds(60));
        await QueueProbe.ExpectNoMoreAsync([(ours, 2 * around)]);
        Assert.Equal([.. before, .. after], ours.Bodies);
        Assert.Equal(1, Dropped(engine, exchange));
        var link = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        Assert.Equal(0, await QueueDepth.OfAsync(nodes.A, upstreamQueue));
        if (ackMode != "no-ack")
        {
            // Rejected, not lost: the queue's dead-letter exchange has it, unchanged.
            await Management.WaitAsync(() => QueueDepth.OfAsync(nodes.A, deadLetters), depth => depth == 1, "the culprit should be dead-lettered");
        }

        // And the link goes on, without another restart.
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "later");
        await Poll.UntilAsync(() => Task.FromResult(ours.Bodies.Contains("later") ? ours : null), "'later' should arrive");
        Assert.Equal(link.Since, engine.GetLinks().Single(l => l.Exchange == exchange).Since);
    }

    /// <summary>The channels (by the broker's pid for each) of the consumers of <paramref name="queue"/> on A.</summary>
    private async Task<IReadOnlyList<string>> ConsumerChannelsAsync(string queue)
    {
        var result = await nodes.A.CtlAsync(CancellationToken.None, "list_consumers", "--no-table-headers", "--quiet", "queue_name", "channel_pid");
        Assert.True(result.ExitCode == 0, result.Output);
        return [.. result.Output.Split('\n').Select(line => line.Split('\t')).Where(fields => fields.Length == 2 && fields[0] == queue).Select(fields => fields[1].Trim())];
    }

    private static long Dropped(Core.FederationEngine engine, string exchange) =>
        engine.GetLinks().Single(l => l.Exchange == exchange).DroppedMessages?.GetValueOrDefault("unreadable") ?? 0;

    private static string Describe(Core.FederationEngine engine) =>
        string.Join("; ", engine.GetLinks().Select(l => $"{l.Exchange} {l.State} {l.Error} dropped {string.Join(",", l.DroppedMessages ?? new Dictionary<string, long>())}"));

    private static BasicProperties Headers(params (string Name, object? Value)[] headers) =>
        new() { Headers = headers.ToDictionary(h => h.Name, h => h.Value) };

    /// <summary>Declares a dead-letter exchange and queue on A and a policy that gives them to <paramref name="queue"/>; returns the queue.</summary>
    private async Task<string> DeadLetterQueueAsync(string queue)
    {
        var name = ScenarioContext.UniqueName("dlx");
        var channel = await context.ChannelAsync(nodes.A);
        await channel.ExchangeDeclareAsync(name, ExchangeType.Fanout, durable: false, autoDelete: false);
        context.DeleteLater(nodes.A, name);
        await channel.QueueDeclareAsync(name, durable: false, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(name, name, string.Empty);
        var result = await nodes.A.CtlAsync(CancellationToken.None, "set_policy", "--apply-to", "queues", name, "^" + Regex.Escape(queue) + "$", $"{{\"dead-letter-exchange\":\"{name}\"}}");
        Assert.True(result.ExitCode == 0, result.Output);
        cleanups.Add(async () =>
        {
            await nodes.A.CtlAsync(CancellationToken.None, "clear_policy", name);
            await nodes.A.CtlAsync(CancellationToken.None, "delete_queue", name);
        });
        return name;
    }
}
