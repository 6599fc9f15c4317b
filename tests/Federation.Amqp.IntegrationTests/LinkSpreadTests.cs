using System.Diagnostics;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Three engines with the same configuration against a real downstream node, six links: presence heartbeats go through
/// RabbitMQ (a fanout exchange and exclusive queues), the links spread two to an engine, and when one engine's
/// connections drop its links run on the other two within 10 s.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class LinkSpreadTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private const int Links = 6;
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(10);
    private readonly string _prefix = $"fed.spread.{Guid.NewGuid():N}.";
    private readonly List<FederationEngine> _engines = [];

    private IEnumerable<string> Exchanges => Enumerable.Range(0, Links).Select(i => _prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public async Task InitializeAsync()
    {
        await using var connection = await ConnectAsync(nodes.Downstream.AmqpPort);
        await using var channel = await connection.CreateChannelAsync();
        foreach (var exchange in Exchanges)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var engine in _engines)
        {
            await engine.DisposeAsync();
        }

        await using var upConnection = await ConnectAsync(nodes.Upstream.AmqpPort);
        await using var up = await upConnection.CreateChannelAsync();
        await using var downConnection = await ConnectAsync(nodes.Downstream.AmqpPort);
        await using var down = await downConnection.CreateChannelAsync();
        foreach (var exchange in Exchanges)
        {
            await up.QueueDeleteAsync($"federation: {exchange} -> {nodes.Downstream.ClusterName}");
            await down.ExchangeDeleteAsync(exchange);
        }
    }

    [Fact]
    public async Task Six_links_run_two_on_each_of_three_engines_and_a_dead_engines_links_move_within_ten_seconds()
    {
        var (a, _) = await StartEngineAsync("host-a");
        var (b, _) = await StartEngineAsync("host-b");
        var (c, crashC) = await StartEngineAsync("host-c");

        await Poll.UntilAsync(
            () => Task.FromResult<object?>(new[] { a, b, c }.All(e => Running(e) == Links / 3) ? true : null),
            $"two links running on each engine; have {Describe(a, b, c)}",
            TimeSpan.FromSeconds(60));

        var clock = Stopwatch.StartNew();
        await crashC.CrashAsync();
        // Every link runs on a survivor, and every status says so: a standby's entry follows the new placement a moment
        // after the link it waits for has started elsewhere, so both are polled for.
        await Poll.UntilAsync(
            () => Task.FromResult<object?>(Running(a) + Running(b) == Links && a.GetLinks().Concat(b.GetLinks()).All(l => l.RunningOn is "host-a" or "host-b") ? true : null),
            $"all links running on host-a and host-b, as every status says; have {Describe(a, b)}",
            TimeSpan.FromSeconds(30));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, Failover);
    }

    private static int Running(FederationEngine engine) => engine.GetLinks().Count(l => l.State == LinkState.Running);

    private static string Describe(params FederationEngine[] engines) =>
        string.Join("; ", engines.Select(e => string.Join(", ", e.GetLinks().Select(l => $"{l.Instance}:{l.Exchange[^1..]}={l.State}->{l.RunningOn}"))));

    private async Task<(FederationEngine Engine, LinkLeaseTests.CrashableTransport Transport)> StartEngineAsync(string instance)
    {
        var options = new FederationOptions { InstanceName = instance, Downstream = { Uri = nodes.Downstream.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1, ResourceCleanupMode = ResourceCleanupMode.Never };
        options.Policies["spread"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(_prefix),
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var transport = new LinkLeaseTests.CrashableTransport(new AmqpTransport());
        var engine = new FederationEngine(options, [transport]);
        _engines.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return (engine, transport);
    }

    private static Task<IConnection> ConnectAsync(int port) =>
        new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") }.CreateConnectionAsync();
}
