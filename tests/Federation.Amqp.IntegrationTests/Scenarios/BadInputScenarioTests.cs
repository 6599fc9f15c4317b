using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Testing.Brokers;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>Bad input on real nodes: a malformed x-received-from header, and a message over the downstream broker's size limit.</summary>
[Collection(ThreeNodesCollection.Name)]
public sealed class BadInputScenarioTests(ThreeNodesFixture nodes, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();
    private readonly CapturedLogs logs = new();
    private PluginFederation? plugin;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (plugin is not null)
        {
            await plugin.DisposeAsync();
        }

        await context.DisposeAsync();
        logs.Dispose();
    }

    /// <summary>
    /// The reference (§4.1, rabbit_basic:prepend_table_header): a non-array x-received-from counts as no trail for the hop
    /// checks, and the forwarding link replaces it with a fresh one-entry array and moves the old value into
    /// <c>x-invalid-headers</c> (a table: header name → array of displaced values). We do the same; the test checks it
    /// against the plugin itself: the same messages cross our link (A → B) and the plugin's (A → C).
    /// </summary>
    [Fact]
    public async Task A_non_array_x_received_from_is_replaced_and_kept_in_x_invalid_headers_exactly_as_the_plugin_does()
    {
        var exchange = ScenarioContext.UniqueName("fed.badheader");
        await context.DeclareExchangeAsync(nodes.A, exchange);
        await context.DeclareExchangeAsync(nodes.B, exchange);
        await context.DeclareExchangeAsync(nodes.C, exchange);
        var ours = await context.BindQueueAsync(nodes.B, exchange, "key");
        var theirs = await context.BindQueueAsync(nodes.C, exchange, "key");
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.B, exchange, ("a", nodes.A, null)));
        plugin = await PluginFederation.StartAsync(nodes.C, nodes.A, exchange, maxHops: 1);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, exchange), keys => keys.SequenceEqual(["key", "key"]), "A should hold B's binding and the plugin's for C");

        var publisher = await context.ChannelAsync(nodes.A);
        var bad = new Dictionary<string, object?>
        {
            ["string"] = "not an array",
            ["table"] = new Dictionary<string, object?> { ["cluster-name"] = "forged" },
            ["number"] = 42,
        };
        foreach (var (kind, value) in bad)
        {
            await ScenarioContext.PublishAsync(publisher, exchange, "key", kind, new BasicProperties { Headers = new Dictionary<string, object?> { ["x-received-from"] = value } });
        }

        // Delivered (hop checks ignore the bad value, even with max-hops 1), once, on both sides.
        string[] kinds = [.. bad.Keys];
        await ours.ExpectAsync(kinds);
        await theirs.ExpectAsync(kinds);
        foreach (var kind in kinds)
        {
            var mine = ours.Received.Single(r => r.Body == kind).Properties;
            var plugins = theirs.Received.Single(r => r.Body == kind).Properties;
            Assert.Equal(nodes.A.ClusterName, Assert.Single(Trail.Read(mine)).Text("cluster-name"));
            Assert.Equal(nodes.A.ClusterName, Assert.Single(Trail.Read(plugins)).Text("cluster-name"));
            var expected = Describe(plugins.Headers!["x-invalid-headers"]);
            output.WriteLine($"{kind}: plugin x-invalid-headers = {expected}");
            Assert.Equal($"{{x-received-from: [{Describe(bad[kind])}]}}", expected);
            Assert.Equal(expected, Describe(mine.Headers!["x-invalid-headers"]));
        }
    }

    /// <summary>
    /// A message over the downstream's <c>max_message_size</c>: the broker closes the link's publishing channel over it
    /// (406), and it can never be delivered there. Returned to the upstream, it would be redelivered first at every
    /// restart and hold everything behind it, so the link refuses it: rejected upstream without requeueing, counted as
    /// <c>too_large</c>, and the message behind it arrives. Another link of the same
    /// engine never notices. (With the default on-confirm and duplicate suppression the refused unit is committed again
    /// without it, so the link does not even restart.)
    /// </summary>
    [Fact]
    public async Task A_message_over_the_downstream_size_limit_is_refused_and_the_link_and_other_links_go_on()
    {
        const int Limit = 65536;
        var prefix = ScenarioContext.UniqueName("fed.size");
        var big = prefix + ".big";
        var fine = prefix + ".fine";
        await context.DeclareExchangeAsync(nodes.B, big);
        await context.DeclareExchangeAsync(nodes.B, fine);
        context.DeleteLater(nodes.A, big);
        context.DeleteLater(nodes.A, fine);
        var bigQueue = await context.BindQueueAsync(nodes.B, big, "key");
        var fineQueue = await context.BindQueueAsync(nodes.B, fine, "key");

        var original = await MaxMessageSizeAsync(nodes.B);
        await SetMaxMessageSizeAsync(nodes.B, Limit);
        try
        {
            var options = new FederationOptions { Downstream = { Uri = nodes.B.AmqpUri() } };
            options.Upstreams["a"] = new UpstreamDefinition { Uris = { nodes.A.AmqpUri() }, ReconnectDelaySeconds = 1 };
            options.Policies["fed"] = new FederationPolicy { Pattern = "^" + Regex.Escape(prefix) + "\\.", ApplyTo = "exchanges", Definition = { FederationUpstream = "a" } };
            var engine = await context.StartEngineAsync(options, loggerFactory: logs);
            var bigLink = await ScenarioContext.WaitForLinkAsync(engine, big, LinkState.Running);
            var fineLink = await ScenarioContext.WaitForLinkAsync(engine, fine, LinkState.Running);
            await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, big), keys => keys.SequenceEqual(["key"]), "the big exchange's binding should propagate");
            await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.A, fine), keys => keys.SequenceEqual(["key"]), "the fine exchange's binding should propagate");

            using var restarts = new RestartCounter(big);
            var publisher = await context.ChannelAsync(nodes.A);
            await ScenarioContext.PublishAsync(publisher, big, "key", "small-1");
            await publisher.BasicPublishAsync(big, "key", mandatory: false, new BasicProperties(), Encoding.UTF8.GetBytes("BIG" + new string('x', 2 * Limit)));
            await ScenarioContext.PublishAsync(publisher, big, "key", "small-2");

            await Poll.UntilAsync(() => Task.FromResult(bigQueue.Count >= 2 ? bigQueue : null), "small-1 and small-2 should arrive", TimeSpan.FromSeconds(60));
            await QueueProbe.ExpectNoMoreAsync([(bigQueue, 2)]);
            Assert.Equal(["small-1", "small-2"], bigQueue.Bodies);
            var upstreamQueue = $"federation: {big} -> {nodes.B.ClusterName}";
            await Management.WaitAsync(() => QueueDepth.OfAsync(nodes.A, upstreamQueue), depth => depth == 0, "BIG should be rejected upstream, not requeued");
            // Running (at once, unless the client's race below restarted it).
            var link = await ScenarioContext.WaitForLinkAsync(engine, big, LinkState.Running);
            Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("too_large"));

            // The link never restarted, and the other link never noticed (same status entry), unless RabbitMQ.Client's
            // race cost the publishing connection, which restarts both (see ClientCloseOkRace). Either way it forwards.
            var connectionLost = ClientCloseOkRace.CostThePublishingConnection(logs);
            if (!connectionLost)
            {
                Assert.Equal(bigLink.Since, link.Since);
                Assert.Equal(0, restarts.Count);
            }

            await ScenarioContext.PublishAsync(publisher, fine, "key", "fine-1");
            await fineQueue.ExpectAsync("fine-1");
            if (!connectionLost && !ClientCloseOkRace.CostThePublishingConnection(logs))
            {
                Assert.Equal(fineLink.Since, engine.GetLinks().Single(l => l.Exchange == fine).Since);
            }
            else
            {
                output.WriteLine("the downstream connection was lost to RabbitMQ.Client's close-ok race; restart checks skipped");
            }
        }
        finally
        {
            await SetMaxMessageSizeAsync(nodes.B, original);
        }
    }

    private static async Task<long> MaxMessageSizeAsync(RabbitMqNode node)
    {
        var result = await node.CtlAsync(CancellationToken.None, "eval", "{ok, Size} = application:get_env(rabbit, max_message_size), Size.");
        Assert.True(result.ExitCode == 0, result.Output);
        return long.Parse(result.Output.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Changes the node's <c>max_message_size</c> (rabbitmq.conf's key) in its application environment: every channel
    /// opened afterwards enforces it, so links started afterwards see it without restarting the shared node.
    /// </summary>
    private static async Task SetMaxMessageSizeAsync(RabbitMqNode node, long size)
    {
        var result = await node.CtlAsync(CancellationToken.None, "eval", $"application:set_env(rabbit, max_message_size, {size.ToString(CultureInfo.InvariantCulture)}).");
        Assert.True(result.ExitCode == 0, result.Output);
    }

    /// <summary>A header value as text, the same whichever client encoded it: long strings are UTF-8 bytes on receipt.</summary>
    private static string Describe(object? value) => value switch
    {
        null => "null",
        byte[] text => Encoding.UTF8.GetString(text),
        string text => text,
        IDictionary<string, object?> table => "{" + string.Join(", ", table.Select(kv => $"{kv.Key}: {Describe(kv.Value)}")) + "}",
        IList array => "[" + string.Join(", ", array.Cast<object?>().Select(Describe)) + "]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>Counts federation.link.restarts of one exchange's links (the meter is process-wide; other tests run in parallel).</summary>
    private sealed class RestartCounter : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener listener = new();
        private long count;

        public RestartCounter(string exchange)
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Federation.Core" && instrument.Name == "federation.link.restarts")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "federation.exchange" && Equals(tag.Value, exchange))
                    {
                        Interlocked.Add(ref count, value);
                    }
                }
            });
            listener.Start();
        }

        public long Count => Interlocked.Read(ref count);

        public void Dispose() => listener.Dispose();
    }
}
