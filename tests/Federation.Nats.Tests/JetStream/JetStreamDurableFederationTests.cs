using System.Diagnostics;
using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// The durable-mode bars: 100,000 messages cross a JetStream link while the upstream server, the downstream server or
/// the engine stops mid-transfer and comes back; the downstream stream then holds each message exactly once.
/// </summary>
/// <remarks>
/// Each test: the link runs once so that its durable consumer exists upstream, stops (resource-cleanup-mode never keeps
/// the consumer), the producer stores 100,000 confirmed messages upstream, the link starts again, and once part of them
/// arrived the victim is killed with SIGKILL and restarted (the engine: disposed mid-transfer, a new one started).
/// </remarks>
public sealed class JetStreamDurableFederationTests(ITestOutputHelper output) : JetStreamServerPairTests("js-up", "js-down")
{
    private const int Messages = 100_000;
    private const string Exchange = "orders";
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public Task Upstream_server_killed_and_restarted_mid_transfer_loses_and_duplicates_nothing() =>
        TransferSurvivesAsync("upstream server", () => Upstream.KillAsync(), () => Upstream.StartAsync());

    [Fact]
    public Task Downstream_server_killed_and_restarted_mid_transfer_loses_and_duplicates_nothing() =>
        TransferSurvivesAsync("downstream server", () => Downstream.KillAsync(), () => Downstream.StartAsync());

    [Fact]
    public async Task Upstream_server_without_a_name_killed_and_restarted_mid_transfer_loses_and_duplicates_nothing()
    {
        // Started without -n and linked without cluster-name: the server is named after its server_id, new on every start,
        // so the ids the downstream drops redeliveries by must hold nothing of the server's (they once held its name, and
        // every message redelivered after the restart was stored twice).
        await using var unnamed = await NatsServerProcess.StartJetStreamAsync(name: null);
        var before = await ServerNameAsync(unnamed);
        await TransferSurvivesAsync(
            "unnamed upstream server",
            () => unnamed.KillAsync(),
            async () =>
            {
                await unnamed.StartAsync();
                Assert.NotEqual(before, await ServerNameAsync(unnamed));
            },
            unnamed,
            upstreamQuery: "");
    }

    [Fact]
    public async Task Engine_stopped_mid_transfer_and_started_again_loses_and_duplicates_nothing()
    {
        FederationEngine? victim = null;
        await TransferSurvivesAsync(
            "engine",
            async () =>
            {
                victim = Engines[^1];
                Engines.Remove(victim);
                await DropAsync(victim);
            },
            () =>
            {
                Engines.Add(StartEngine());
                return Task.CompletedTask;
            });
    }

    /// <param name="victim">What is killed, for the output.</param>
    /// <param name="kill">Kills it.</param>
    /// <param name="restart">Starts it again.</param>
    /// <param name="upstream">The upstream server; <see cref="JetStreamServerPairTests.Upstream"/> when null.</param>
    /// <param name="upstreamQuery">What the upstream URI has before <c>jetstream=true</c>.</param>
    private async Task TransferSurvivesAsync(string victim, Func<Task> kill, Func<Task> restart, NatsServerProcess? upstream = null, string upstreamQuery = "cluster-name=UP&")
    {
        var clock = Stopwatch.StartNew();
        var source = upstream ?? Upstream;
        var engine = StartEngine(source, upstreamQuery);
        Engines.Add(engine);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(source, Stream) is [_],
            () => $"the link's durable consumer upstream; links: {Describe(engine)}",
            Deadline);
        Engines.Remove(engine);
        await engine.DisposeAsync();

        await JetStreamTestKit.PublishConfirmedAsync(source, Exchange, 0, Messages);
        output.WriteLine($"{clock.Elapsed}: {Messages} stored upstream");

        Engines.Add(StartEngine(source, upstreamQuery));
        long count = 0;
        await JetStreamTestKit.EventuallyAsync(
            async () => (count = await JetStreamTestKit.CountAsync(Downstream, Stream)) >= Messages / 10,
            () => $"a tenth of the messages downstream; have {count}",
            Deadline);
        output.WriteLine($"{clock.Elapsed}: {count} downstream, killing the {victim}");
        Assert.True(count < Messages, $"all {count} messages arrived before the {victim} could be killed");

        await kill();
        await restart();
        output.WriteLine($"{clock.Elapsed}: {victim} restarted");

        var upstreamState = "";
        try
        {
            await JetStreamTestKit.EventuallyAsync(
                async () =>
                {
                    count = await JetStreamTestKit.CountAsync(Downstream, Stream);
                    var consumers = await JetStreamTestKit.ConsumersAsync(source, Stream);
                    upstreamState = string.Join("; ", consumers.Select(c => $"{c.Name}: pending {c.NumPending}, ack pending {c.NumAckPending}, redelivered {c.NumRedelivered}, delivered {c.Delivered?.StreamSeq}, ack floor {c.AckFloor?.StreamSeq}"));
                    return count >= Messages && consumers is [{ NumPending: 0, NumAckPending: 0 }];
                },
                () => $"{Messages} messages downstream and nothing left upstream; have {count}; upstream: {upstreamState}; links: {Describe(Engines[^1])}",
                Deadline);
        }
        catch (Exception) when (count > 0)
        {
            var have = (await JetStreamTestKit.ReadAllAsync(Downstream, Stream, count)).ToHashSet();
            var missing = Enumerable.Range(0, Messages).Where(i => !have.Contains(i)).ToList();
            output.WriteLine($"missing {missing.Count}: {string.Join(",", missing.Take(50))}");
            throw;
        }

        output.WriteLine($"{clock.Elapsed}: {count} downstream, upstream consumer drained");

        var bodies = await JetStreamTestKit.ReadAllAsync(Downstream, Stream, Messages);
        var distinct = bodies.ToHashSet();
        Assert.Equal(Messages, distinct.Count); // 0 lost
        Assert.Equal(Messages, bodies.Count); // 0 duplicates
        Assert.Equal(Enumerable.Range(0, Messages), distinct.Order());
        output.WriteLine($"{clock.Elapsed}: verified");
    }

    private FederationEngine StartEngine() => StartEngine(Upstream, "cluster-name=UP&");

    private FederationEngine StartEngine(NatsServerProcess upstream, string upstreamQuery)
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
            Uris = { $"{upstream.Url}?{upstreamQuery}jetstream=true&ack-wait-ms=5000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
            ResourceCleanupMode = ResourceCleanupMode.Never,
            PrefetchCount = 1000,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        _ = engine.StartAsync(CancellationToken.None);
        return engine;
    }

    /// <summary>
    /// The in-process, weaker stand-in for kill -9 of the host (the real one, FederationHost killed with SIGKILL, is
    /// <c>FederationHost.Tests.JetStreamHostKillTests</c>): the engine is disposed while its link has deliveries in flight;
    /// what it had not acknowledged is nak'ed on the way out and comes back to the next engine.
    /// </summary>
    private static async Task DropAsync(FederationEngine engine) => await engine.DisposeAsync();

    private static async Task<string?> ServerNameAsync(NatsServerProcess server)
    {
        await using var nats = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = server.Url, Name = "test-server-name" });
        await nats.ConnectAsync();
        return nats.ServerInfo?.Name;
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
