using System.Globalization;
using System.Text;
using System.Text.Json;
using Federation.Core;
using Federation.Core.Hops;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Client;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Federation;

/// <summary>Three real nats-servers federating namespace <c>news</c> in a complete graph and in a ring.</summary>
public sealed class NatsMeshFederationTests : IAsyncLifetime
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(1000);
    private static readonly string[] Names = ["A", "B", "C"];
    private readonly List<IAsyncDisposable> _resources = [];
    private readonly HttpClient _http = new();
    private readonly NatsServerProcess[] _servers = new NatsServerProcess[3];

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _servers[i] = await NatsServerProcess.StartAsync("-n", "mesh-" + Names[i]);
        }
    }

    public async Task DisposeAsync()
    {
        for (var i = _resources.Count - 1; i >= 0; i--)
        {
            await _resources[i].DisposeAsync();
        }

        foreach (var server in _servers)
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }

        _http.Dispose();
    }

    private string Uri(int i) =>
        $"{_servers[i].Url}?cluster-name={Names[i]}&monitor-port={_servers[i].MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=news";

    /// <summary>An engine whose downstream is server <paramref name="downstream"/>, federating <c>news</c> from every server in <paramref name="upstreams"/>.</summary>
    private async Task<FederationEngine> StartEngineAsync(int downstream, int maxHops, params int[] upstreams)
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(downstream) } };
        foreach (var u in upstreams)
        {
            options.Upstreams["up-" + Names[u]] = new UpstreamDefinition { Uris = { Uri(u) }, MaxHops = maxHops, ReconnectDelaySeconds = 1 };
        }

        options.Policies["fed"] = new FederationPolicy { Pattern = "^news$", Definition = new FederationPolicyDefinition { FederationUpstreamSet = "all" } };
        var engine = new FederationEngine(options, [new NatsTransport()]);
        _resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        await EventuallyAsync(
            () => Task.FromResult(engine.GetLinks() is { Count: var n } links && n == upstreams.Length && links.All(l => l.State == LinkState.Running)),
            () => $"{upstreams.Length} running links on {Names[downstream]}; have {string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"))}");
        return engine;
    }

    private async Task<NatsConnection> ConnectAsync(int server)
    {
        var connection = new NatsConnection(new NatsClientOptions { Servers = [_servers[server].Url], Name = "test-app-" + Names[server] });
        _resources.Add(connection);
        await connection.ConnectAsync();
        return connection;
    }

    private async Task<List<string>> SubjectsAsync(int server)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new System.Uri($"http://127.0.0.1:{_servers[server].MonitorPort}/subsz?subs=1&limit=100000")));
        return [.. doc.RootElement.GetProperty("subscriptions_list").EnumerateArray()
            .Where(s => s.GetProperty("account").GetString() != "$SYS")
            .Select(s => s.GetProperty("subject").GetString()!)
            .Where(s => !s.StartsWith('$') && !s.StartsWith("_INBOX.", StringComparison.Ordinal))];
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting for " + describe());
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Sets up one subscriber per server, waits for the expected SUB count of <c>news.*</c> on each, publishes one message per server and returns what each subscriber got.</summary>
    private async Task<List<NatsMsg>[]> PublishOnePerServerAsync(int expectedSubsPerServer)
    {
        var subscriptions = new NatsSubscription[3];
        for (var i = 0; i < 3; i++)
        {
            var connection = await ConnectAsync(i);
            subscriptions[i] = await connection.SubscribeAsync("news.*");
            await connection.FlushAsync();
        }

        for (var i = 0; i < 3; i++)
        {
            var server = i;
            List<string> have = [];
            await EventuallyAsync(
                async () => (have = await SubjectsAsync(server)).Count(s => s == "news.*") == expectedSubsPerServer,
                () => $"{expectedSubsPerServer} news.* SUBs on {Names[server]}; have {string.Join(",", have)}");
        }

        for (var i = 0; i < 3; i++)
        {
            var publisher = await ConnectAsync(i);
            await publisher.PublishAsync("news.item", Encoding.UTF8.GetBytes("from-" + Names[i]));
            await publisher.FlushAsync();
        }

        var received = new List<NatsMsg>[3];
        for (var i = 0; i < 3; i++)
        {
            received[i] = [];
            using var timeout = new CancellationTokenSource(Deadline);
            while (received[i].Count < 3)
            {
                received[i].Add(await subscriptions[i].ReadAsync(timeout.Token));
            }
        }

        // Quiet period: nothing else (no duplicate, no echo) arrives on any subscriber.
        var quietUntil = DateTime.UtcNow + QuietPeriod;
        while (DateTime.UtcNow < quietUntil)
        {
            for (var i = 0; i < 3; i++)
            {
                if (subscriptions[i].TryRead(out var extra) && extra is not null)
                {
                    Assert.Fail($"{Names[i]} got an extra message {Encoding.UTF8.GetString(extra.Data.Span)} with trail [{string.Join(" | ", Trail(extra).Select(h => h.ClusterName))}]");
                }
            }

            await Task.Delay(PollInterval);
        }

        return received;
    }

    private static IReadOnlyList<ReceivedFromEntry> Trail(NatsMsg message) =>
        message.Headers is null ? [] : HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(message.Headers).Headers);

    private static string Body(NatsMsg message) => Encoding.UTF8.GetString(message.Data.Span);

    [Fact]
    public async Task Complete_graph_of_three_with_max_hops_1_delivers_each_message_once_everywhere()
    {
        await StartEngineAsync(0, 1, 1, 2);
        await StartEngineAsync(1, 1, 0, 2);
        await StartEngineAsync(2, 1, 0, 1);

        // Each server: the local subscriber plus one SUB per engine pulling from it (two).
        var received = await PublishOnePerServerAsync(3);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Names.Select(n => "from-" + n).Order(), received[i].Select(Body).Order());
            foreach (var message in received[i])
            {
                var origin = Body(message)["from-".Length..];
                var trail = Trail(message);
                if (origin == Names[i])
                {
                    Assert.Empty(trail);
                }
                else
                {
                    Assert.Equal(origin, Assert.Single(trail).ClusterName);
                }
            }
        }
    }

    [Fact]
    public async Task Ring_of_three_with_max_hops_2_delivers_each_message_once_everywhere()
    {
        // A pulls from C, B from A, C from B: messages travel A -> B -> C -> A.
        await StartEngineAsync(0, 2, 2);
        await StartEngineAsync(1, 2, 0);
        await StartEngineAsync(2, 2, 1);

        // Each server: the local subscriber plus the SUB of the one engine pulling from it.
        var received = await PublishOnePerServerAsync(2);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Names.Select(n => "from-" + n).Order(), received[i].Select(Body).Order());
            foreach (var message in received[i])
            {
                var origin = Array.IndexOf(Names, Body(message)["from-".Length..]);
                var hops = (i - origin + 3) % 3;
                var trail = Trail(message).Select(h => h.ClusterName).ToList();

                // Newest hop first: the server it came from, back to the origin.
                Assert.Equal(Enumerable.Range(1, hops).Select(k => Names[(i - k + 3) % 3]), trail);
            }
        }
    }
}
