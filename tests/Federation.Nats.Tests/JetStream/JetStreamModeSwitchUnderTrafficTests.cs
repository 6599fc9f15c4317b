using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A reload that switches an upstream between core NATS and JetStream while a publisher sends 1,000 messages a second.
/// The new run's queue (the durable consumer, or the core subscriptions) is declared and bound before the old run stops,
/// so nothing published around the switch is lost; what both runs received arrives twice, and is counted. Before 7 Dec
/// 2026 the old run stopped first: what the upstream published until the new run had its first pull or subscription was
/// never forwarded (a black-box run at 500 msg/s lost 50 of 10,000 messages one way and 123 the other).
/// </summary>
public sealed class JetStreamModeSwitchUnderTrafficTests(ITestOutputHelper output) : JetStreamServerPairTests("js-switch-traffic-up", "js-switch-traffic-down")
{
    private const string Exchange = "flow";
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>The switch creates the stream (the link creates streams), and the durable consumer starts at its first message.</summary>
    [Fact]
    public Task Switching_from_core_to_JetStream_under_traffic_loses_nothing() => SwitchUnderTrafficAsync(false, true);

    /// <summary>Then back onto the stream that exists since the first run: a new durable consumer, created before the core run stops.</summary>
    [Fact]
    public Task Switching_from_JetStream_to_core_and_back_under_traffic_loses_nothing() => SwitchUnderTrafficAsync(true, false, true);

    private async Task SwitchUnderTrafficAsync(params bool[] modes)
    {
        var from = modes[0];
        var received = new ConcurrentDictionary<int, int>();
        await using var counter = new NatsConnection(new NatsOpts { Url = Downstream.Url, Name = "test-counter" });
        await counter.ConnectAsync();
        using var counting = new CancellationTokenSource();
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var countTask = Task.Run(async () =>
        {
            await using var sub = await counter.SubscribeCoreAsync<byte[]>($"{Exchange}.>", cancellationToken: counting.Token);
            subscribed.TrySetResult();
            await foreach (var message in sub.Msgs.ReadAllAsync(counting.Token))
            {
                var value = int.Parse(Encoding.ASCII.GetString(message.Data!), CultureInfo.InvariantCulture);
                received.AddOrUpdate(value, 1, (_, n) => n + 1);
            }
        });
        await subscribed.Task.WaitAsync(Deadline);

        var engine = new FederationEngine(Options(from), [new NatsTransport()], new TestOutputLoggerFactory(output));
        Engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
        await JetStreamTestKit.EventuallyAsync(
            async () => engine.GetLinks() is [{ State: LinkState.Running }] && (!from || (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).Count == 1),
            () => $"the link running; links: {Describe(engine)}",
            Deadline);

        // 1,000 messages a second, ten every 10 ms, numbered.
        var published = 0;
        using var publishing = new CancellationTokenSource();
        await using var producer = new NatsConnection(new NatsOpts { Url = Upstream.Url, Name = "test-producer" });
        await producer.ConnectAsync();
        var publisher = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            try
            {
                while (await timer.WaitForNextTickAsync(publishing.Token))
                {
                    for (var i = 0; i < 10; i++)
                    {
                        var n = published;
                        await producer.PublishAsync($"{Exchange}.{(n % 10).ToString(CultureInfo.InvariantCulture)}", Encoding.ASCII.GetBytes(n.ToString(CultureInfo.InvariantCulture)));
                        published = n + 1;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }

            await producer.PingAsync();
        });

        // The link forwards before the switch (a core link: once it has subscribed; nothing published before counts).
        await JetStreamTestKit.EventuallyAsync(() => Task.FromResult(received.Count >= 1000), () => $"1,000 messages forwarded before the switch, have {received.Count}; links: {Describe(engine)}", Deadline);
        var firstForwarded = received.Keys.Min();

        foreach (var jetStream in modes.Skip(1))
        {
            await engine.UpdateAsync(Options(jetStream), CancellationToken.None);
            var atSwitch = Volatile.Read(ref published);
            await JetStreamTestKit.EventuallyAsync(
                async () => engine.GetLinks() is [{ State: LinkState.Running }]
                    && (await JetStreamTestKit.ConsumersAsync(Upstream, Stream)).Count == (jetStream ? 1 : 0)
                    && received.Keys.Count(k => k > atSwitch) >= 2000,
                () => $"2,000 messages forwarded by the new run, have {received.Keys.Count(k => k > atSwitch)}; links: {Describe(engine)}",
                Deadline);
        }

        await publishing.CancelAsync();
        await publisher;
        var total = published;
        var expected = Enumerable.Range(firstForwarded, total - firstForwarded).ToList();
        var missing = expected.Where(n => !received.ContainsKey(n)).ToList();
        await JetStreamTestKit.EventuallyAsync(
            () =>
            {
                missing = [.. expected.Where(n => !received.ContainsKey(n))];
                return Task.FromResult(missing.Count == 0);
            },
            () => $"every message from {firstForwarded} to {total - 1} downstream, {missing.Count} missing (first {string.Join(", ", missing.Take(10))}); links: {Describe(engine)}",
            TimeSpan.FromSeconds(20)).ContinueWith(_ => { }, TaskScheduler.Default);

        var duplicates = received.Where(p => p.Key >= firstForwarded).Sum(p => p.Value - 1);
        output.WriteLine($"switches {string.Join(" -> ", modes.Select(m => m ? "JetStream" : "core"))}: {expected.Count} messages published from the first forwarded one, {missing.Count} lost, {duplicates} duplicates");
        await counting.CancelAsync();
        await countTask.ContinueWith(_ => { }, TaskScheduler.Default);
        Assert.True(missing.Count == 0, $"{missing.Count} of {expected.Count} messages lost across the switches (first {string.Join(", ", missing.Take(10))}), {duplicates} duplicates");
    }

    private FederationOptions Options(bool jetStream)
    {
        var options = new FederationOptions
        {
            Downstream =
            {
                Uri = $"{Downstream.Url}?cluster-name=DOWN&monitor-port={Port(Downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{Upstream.Url}?cluster-name=UP{(jetStream ? "&jetstream=true" : "")}" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        return options;
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
