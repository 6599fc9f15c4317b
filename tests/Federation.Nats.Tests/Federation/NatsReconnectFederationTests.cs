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

/// <summary>The upstream nats-server is killed and restarted on the same port: the link recovers and forwards again.</summary>
public sealed class NatsReconnectFederationTests : IAsyncLifetime
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly List<IAsyncDisposable> _resources = [];
    private readonly HttpClient _http = new();
    private NatsServerProcess _up = null!;
    private NatsServerProcess _down = null!;

    public async Task InitializeAsync()
    {
        _up = await NatsServerProcess.StartAsync("-n", "reconnect-up");
        _down = await NatsServerProcess.StartAsync("-n", "reconnect-down");
    }

    public async Task DisposeAsync()
    {
        for (var i = _resources.Count - 1; i >= 0; i--)
        {
            await _resources[i].DisposeAsync();
        }

        await _up.DisposeAsync();
        await _down.DisposeAsync();
        _http.Dispose();
    }

    private static string Uri(NatsServerProcess server, string cluster) =>
        $"{server.Url}?cluster-name={cluster}&monitor-port={server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=news";

    private async Task<List<string>> SubjectsAsync(NatsServerProcess server)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new System.Uri($"http://127.0.0.1:{server.MonitorPort}/subsz?subs=1&limit=100000")));
        return [.. doc.RootElement.GetProperty("subscriptions_list").EnumerateArray()
            .Where(s => s.GetProperty("account").GetString() != "$SYS")
            .Select(s => s.GetProperty("subject").GetString()!)];
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

    private static Task Eventually(Func<bool> condition, Func<string> describe) => EventuallyAsync(() => Task.FromResult(condition()), describe);

    private async Task PublishUpstreamAsync(string body)
    {
        await using var publisher = new NatsConnection(new NatsClientOptions { Servers = [_up.Url], Name = "test-publisher" });
        await publisher.ConnectAsync();
        await publisher.PublishAsync("news.item", Encoding.UTF8.GetBytes(body));
        await publisher.FlushAsync();
    }

    private static async Task<NatsMsg> ReadAsync(NatsSubscription subscription)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        return await subscription.ReadAsync(timeout.Token);
    }

    [Fact]
    public async Task Killed_and_restarted_upstream_server_link_returns_to_running_and_forwards_again()
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(_down, "DOWN") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(_up, "UP") }, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^news$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()]);
        _resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        string Links() => string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"));
        await Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }], () => "a running link; have " + Links());

        var subscriber = new NatsConnection(new NatsClientOptions { Servers = [_down.Url], Name = "test-subscriber" });
        _resources.Add(subscriber);
        await subscriber.ConnectAsync();
        var subscription = await subscriber.SubscribeAsync("news.*");
        await subscriber.FlushAsync();
        List<string> have = [];
        await EventuallyAsync(async () => (have = await SubjectsAsync(_up)).Contains("news.*"), () => "the link's SUB upstream; have " + string.Join(",", have));

        await PublishUpstreamAsync("before");
        Assert.Equal("before", Encoding.UTF8.GetString((await ReadAsync(subscription)).Data.Span));

        var port = _up.Port;
        await _up.StopAsync();
        await Eventually(() => engine.GetLinks() is [{ State: not LinkState.Running }], () => "the link to leave running; have " + Links());

        await _up.StartAsync();
        Assert.Equal(port, _up.Port);
        await Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }], () => "the link to run again; have " + Links());
        await EventuallyAsync(async () => (have = await SubjectsAsync(_up)).Contains("news.*"), () => "the link's SUB on the restarted upstream; have " + string.Join(",", have));

        await PublishUpstreamAsync("after");
        var after = await ReadAsync(subscription);
        Assert.Equal("after", Encoding.UTF8.GetString(after.Data.Span));
        Assert.Equal("UP", Assert.Single(HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(after.Headers).Headers)).ClusterName);
        Assert.False(subscription.TryRead(out _));
    }
}
