using System.Diagnostics;
using Federation.Core.Model;
using Federation.Transport.Contracts.Tracing;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Federation;

/// <summary>
/// One message's trace across a chain of four real nats-servers A → B → C → D (three links), recorded with the
/// OpenTelemetry SDK's in-memory exporter together with NATS.Client.Core's own spans: the client writes its publish
/// span's <c>traceparent</c> into the headers of every message it sends, the links' included.
/// </summary>
[Collection(ClientTracingCollection.Name)]
public sealed class NatsTraceAcrossFederationTests() : NatsFederationTestbed("trace", [.. Names.Select(n => "trace-" + n)])
{
    private const string Namespace = "trace";
    private static readonly string[] Names = ["A", "B", "C", "D"];

    [Fact]
    public async Task A_published_trace_continues_through_three_forwards_as_one_trace()
    {
        using var recorder = new TraceRecorder(NatsTelemetry.SourceName);
        var engines = new List<global::Federation.Core.FederationEngine>();
        for (var i = 1; i < Names.Length; i++)
        {
            var options = new FederationOptions { Downstream = { Uri = Uri(Servers[i], Names[i]) } };
            options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(Servers[i - 1], Names[i - 1]) }, MaxHops = Names.Length - 1, ReconnectDelaySeconds = 1 };
            options.Policies["fed"] = new FederationPolicy { Pattern = "^" + Namespace + "$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
            engines.Add(await StartEngineAsync(options));
        }

        // A NATS link pulls what its downstream's own subscribers want (the SUBs of other links do not count), so every
        // server on the way has a local subscriber too.
        for (var i = 1; i < Names.Length - 1; i++)
        {
            await SubscribeAsync(Servers[i], Namespace + ".*");
        }

        var sink = await SubscribeAsync(Servers[^1], Namespace + ".*");
        var publisher = await ConnectAsync(Servers[0]);

        // Until the subscription has propagated to A, publishes are dropped on the way; each attempt is a new trace with
        // its own message id, and the first one that arrives is the one whose trace is checked.
        var roots = new Dictionary<string, Activity>(StringComparer.Ordinal);
        NatsMsg<byte[]> delivered = default;
        var attempt = 0;
        await EventuallyAsync(async () =>
        {
            var messageId = $"m{attempt++}";
            var (root, headers) = TraceRecorder.StartPublish(Namespace);
            using (root)
            {
                roots[messageId] = root;
                var natsHeaders = new NatsHeaders { ["amqp-message-id"] = messageId };
                foreach (var (name, value) in headers)
                {
                    natsHeaders[name] = (string)value!;
                }

                await publisher.PublishAsync(Namespace + ".item", "traced"u8.ToArray(), natsHeaders);
                await publisher.PingAsync();
            }

            return sink.Msgs.TryRead(out delivered);
        }, () => "a traced message published on A should arrive on D; links: " + string.Join(" | ", engines.Select(DescribeLinks)) + " subjects: " + string.Join(" | ", Servers.Select(s => string.Join(",", SubjectsAsync(s).GetAwaiter().GetResult()))));

        var messageId = delivered.Headers!["amqp-message-id"].ToString();
        var traced = roots[messageId];
        var spans = await recorder.WaitForForwardsAsync(traced.TraceId, Names.Length - 1, Deadline);

        // One traceparent line: the client replaces the header the link wrote rather than adding a second one.
        var traceParent = Assert.Single(delivered.Headers!["traceparent"].ToArray());
        TraceChainAssertions.AssertChain(spans, traced, Names.Length - 1, Namespace, "nats", messageId, traceParent!);
        Assert.Contains(spans, s => s.Source.Name == NatsTelemetry.SourceName && s.Kind == ActivityKind.Producer);
        Assert.Equal("federation-test=1", Assert.Single(delivered.Headers!["tracestate"].ToArray()));
    }
}
