using System.Diagnostics;
using Federation.Core.Transport;
using Federation.Transport.Contracts.Tracing;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// One message's trace across a chain of in-memory brokers A → B → C → D (three links, three forwards), recorded with the
/// OpenTelemetry SDK's in-memory exporter.
/// </summary>
public sealed class TraceAcrossFederationTests
{
    private const string Exchange = "fed.trace";
    private static readonly string[] Chain = ["A", "B", "C", "D"];

    [Fact]
    public async Task A_published_trace_continues_through_every_hop_as_one_trace()
    {
        using var recorder = new TraceRecorder();
        await using var bed = await StartChainAsync();
        var queue = await bed.BindQueueAsync("D", Exchange, "trace.#");
        await bed.WaitForBindingsAsync("A", Exchange, "trace.#", 1);

        var (root, headers) = TraceRecorder.StartPublish(Exchange);
        using (root)
        {
            await Testbed.PublishAsync(await bed.ConnectAsync("A"), Exchange, "trace.item", "traced",
                new MessageProperties { MessageId = "m-1", Headers = headers });
        }

        await Testbed.Eventually(() => queue.Count == 1, () => "the message should reach D");
        var delivered = Assert.Single(queue.Received);
        var spans = await recorder.WaitForForwardsAsync(root.TraceId, Chain.Length - 1, Testbed.Deadline);

        TraceChainAssertions.AssertChain(spans, root, Chain.Length - 1, Exchange, "memory", "m-1", Assert.IsType<string>(delivered.Properties.Headers!["traceparent"]));

        // The publisher's trace state travels with its trace (each hop's spans inherit it and write it again).
        Assert.Equal("federation-test=1", delivered.Properties.Headers!["tracestate"]);
    }

    [Fact]
    public async Task Untraced_links_carry_the_trace_context_on_unchanged()
    {
        await using var bed = await StartChainAsync();
        var queue = await bed.BindQueueAsync("D", Exchange, "untraced.#");
        await bed.WaitForBindingsAsync("A", Exchange, "untraced.#", 1);

        // No TraceRecorder here: the links start no span (unless a test in another class records at this moment, in
        // which case they continue the same trace), and the publisher's trace id reaches D either way.
        const string traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        await Testbed.PublishAsync(await bed.ConnectAsync("A"), Exchange, "untraced.item", "plain",
            new MessageProperties { Headers = new() { ["traceparent"] = traceParent, ["tracestate"] = "vendor=1" } });

        await Testbed.Eventually(() => queue.Count == 1, () => "the message should reach D");
        var headers = Assert.Single(queue.Received).Properties.Headers!;
        Assert.True(ActivityContext.TryParse(Assert.IsType<string>(headers["traceparent"]), null, out var carried));
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", carried.TraceId.ToHexString());
        Assert.Equal("vendor=1", headers["tracestate"]);
    }

    /// <summary>A → B → C → D: one engine per downstream, each federating <see cref="Exchange"/> from the broker before it, with max-hops 3.</summary>
    private static async Task<Testbed> StartChainAsync()
    {
        var bed = new Testbed();
        foreach (var broker in Chain)
        {
            await Testbed.DeclareExchangeAsync(await bed.ConnectAsync(broker), Exchange);
        }

        for (var i = 1; i < Chain.Length; i++)
        {
            var upstream = Chain[i - 1];
            var engine = await bed.StartEngineAsync(Chain[i], o => o
                .Upstream("up-" + upstream, upstream, u => u.MaxHops = Chain.Length - 1)
                .Policy("fed", "^fed\\.", upstream: "up-" + upstream));
            await Testbed.WaitForRunningLinksAsync(engine, 1);
        }

        return bed;
    }
}
