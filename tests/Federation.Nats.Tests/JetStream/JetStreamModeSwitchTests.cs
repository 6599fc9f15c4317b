using System.Globalization;
using System.Net.Http;
using System.Text.Json;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream.Models;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A reload that switches an upstream from JetStream to core NATS and back. The durable consumer of the JetStream run
/// goes with the first switch: left behind, it kept everything the stream captured while the core link forwarded it,
/// and the switch back reused it under the same name and forwarded all of that a second time, into a JetStream
/// downstream whose duplicate window cannot match it (the core link's messages carry no stream identity).
/// </summary>
public sealed class JetStreamModeSwitchTests(ITestOutputHelper output) : JetStreamServerPairTests("js-switch-up", "js-switch-down")
{
    private const string Exchange = "orders";
    private const int Batch = 500;
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Switching_an_upstream_to_core_and_back_to_JetStream_forwards_nothing_twice()
    {
        var engine = StartEngine(jetStream: true);
        var durable = await WaitForConsumerAsync(engine);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 0, Batch);
        await WaitForCountAsync(engine, c => c == Batch, $"{Batch} messages downstream");

        // To core NATS: the durable consumer cannot be taken over by a core link, and goes.
        await engine.UpdateAsync(Options(jetStream: false), CancellationToken.None);
        await JetStreamTestKit.EventuallyAsync(
            async () => (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).Count == 0,
            () => $"the durable consumer '{durable.Name}' deleted by the switch to core NATS; links: {Describe(engine)}",
            Deadline);

        // The upstream stream still captures what is published; the core link forwards it (once it has subscribed: core
        // NATS keeps nothing for a subscriber that is not there yet).
        await WaitForCoreSubscriptionAsync(engine);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, Batch, Batch);
        await WaitForCountAsync(engine, c => c == 2 * Batch, $"{2 * Batch} messages downstream");

        // Back to JetStream: a fresh consumer, at the stream's end.
        await engine.UpdateAsync(Options(jetStream: true), CancellationToken.None);
        var fresh = await WaitForConsumerAsync(engine);
        Assert.Equal(ConsumerConfigDeliverPolicy.New, fresh.Config.DeliverPolicy);
        await JetStreamTestKit.PublishConfirmedAsync(Upstream, Exchange, 2 * Batch, Batch);

        // A replay of the core run's messages would come before the last of these (a consumer delivers in stream order).
        var received = new List<int>();
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                received = await JetStreamTestKit.ReadAllAsync(Downstream, Stream, 4 * Batch);
                return received.Distinct().Count() == 3 * Batch;
            },
            () => $"every one of {3 * Batch} messages downstream, have {received.Distinct().Count()} distinct; links: {Describe(engine)}",
            Deadline);
        Assert.Equal(Enumerable.Range(0, 3 * Batch), received.Order());
        Assert.Equal(LinkState.Running, Assert.Single(engine.GetLinks()).State);
    }

    [Fact]
    public async Task Switching_an_upstream_to_core_on_every_instance_deletes_the_durable_consumer()
    {
        // Each instance tells when it has heard the other (event 1201): from then on it knows which upstreams the other has.
        var heard = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        string[] instances = ["host-a", "host-b"];
        var engines = instances.ToDictionary(
            instance => instance,
            instance => StartEngine(jetStream: true, instance, (id, message) =>
            {
                if (id.Id == 1201 && message.Contains("sees 2 live instance(s)", StringComparison.Ordinal))
                {
                    heard[instance] = true;
                }
            }),
            StringComparer.Ordinal);
        var durable = "";
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                durable = string.Join(", ", (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).Select(c => c.Name));
                return durable.Length > 0 && States(engines.Values) == "Running,Waiting" && heard.Count == 2;
            },
            () => $"the link running on one instance with its durable consumer upstream ({durable}), each instance having heard the other ({string.Join(", ", heard.Keys)}); links: {string.Join("; ", engines.Values.Select(Describe))}",
            Deadline);

        // The holder first: it keeps the consumer for the other, which still runs JetStream (event 2019); once that one
        // has switched too, nobody uses it. Before, the heartbeats said no kind, and both kept it for good.
        var holder = engines.Single(e => e.Value.GetLinks() is [{ State: LinkState.Running }]).Key;
        foreach (var instance in engines.Keys.OrderBy(k => k == holder ? 0 : 1))
        {
            await engines[instance].UpdateAsync(Options(jetStream: false, instance), CancellationToken.None);
        }

        await JetStreamTestKit.EventuallyAsync(
            async () => (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).Count == 0 && States(engines.Values) == "Running,Waiting",
            () => $"the durable consumer '{durable}' deleted once every instance switched to core NATS, the link running once; links: {string.Join("; ", engines.Values.Select(Describe))}",
            Deadline);
    }

    private FederationEngine StartEngine(bool jetStream, string? instance = null, Action<EventId, string>? observe = null)
    {
        var engine = new FederationEngine(Options(jetStream, instance), [new NatsTransport()], new TestOutputLoggerFactory(output, observe: observe));
        Engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private static string States(IEnumerable<FederationEngine> engines) =>
        string.Join(",", engines.Select(e => e.GetLinks() is [var l] ? l.State.ToString() : "none").Order(StringComparer.Ordinal));

    private FederationOptions Options(bool jetStream, string? instance = null)
    {
        var options = new FederationOptions
        {
            InstanceName = instance,
            Downstream =
            {
                Uri = $"{Downstream.Url}?cluster-name=DOWN&monitor-port={Port(Downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{Upstream.Url}?cluster-name=UP{(jetStream ? "&jetstream=true&ack-wait-ms=5000" : "")}" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        return options;
    }

    private async Task<ConsumerInfo> WaitForConsumerAsync(FederationEngine engine)
    {
        ConsumerInfo? found = null;
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                found = (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).SingleOrDefault();
                return found is not null && engine.GetLinks() is [{ State: LinkState.Running }];
            },
            () => $"the link running with its durable consumer upstream; links: {Describe(engine)}",
            Deadline);
        return found!;
    }

    /// <summary>Waits until a client other than the stream subscribes to the exchange's subjects upstream: the core link.</summary>
    private async Task WaitForCoreSubscriptionAsync(FederationEngine engine)
    {
        using var http = new HttpClient();
        var subscribers = 0;
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                using var subsz = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{Port(Upstream.MonitorPort)}/subsz?subs=1&limit=100000")));
                subscribers = subsz.RootElement.TryGetProperty("subscriptions_list", out var list)
                    ? list.EnumerateArray().Count(s => s.GetProperty("subject").GetString() == Exchange + ".>")
                    : 0;

                // One is the stream's.
                return subscribers >= 2 && engine.GetLinks() is [{ State: LinkState.Running }];
            },
            () => $"the core link subscribed upstream, have {subscribers} subscription(s) on '{Exchange}.>'; links: {Describe(engine)}",
            Deadline);
    }

    private Task WaitForCountAsync(FederationEngine engine, Func<long, bool> condition, string what)
    {
        long count = 0;
        var upstream = "";
        return JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                count = await JetStreamTestKit.CountAsync(Downstream, Stream);
                upstream = string.Join("; ", (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).Select(c => $"{c.Name}: pending {c.NumPending}, ack pending {c.NumAckPending}"));
                return condition(count);
            },
            () => $"{what}, have {count}; upstream: {upstream}; links: {Describe(engine)}",
            Deadline);
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
