using System.Globalization;
using System.Text.Json;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests;

/// <summary>
/// Base of the tests that federate real nats-servers: each test gets fresh servers, plus the engines and app connections
/// it starts on them, with the plumbing those tests share: link URIs, the monitor's subscription list, and
/// deadline-bounded waits. After each test the engines and connections stop (newest first), then the servers.
/// </summary>
public abstract class NatsFederationTestbed : IAsyncLifetime
{
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    protected static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private readonly string _namespaces;
    private readonly string[] _serverNames;
    private readonly List<IAsyncDisposable> _resources = [];
    private readonly HttpClient _http = new();
    private NatsServerProcess[] _servers = [];

    /// <param name="namespaces">The namespaces the links of <see cref="Uri(NatsServerProcess, string)"/> federate.</param>
    /// <param name="serverNames">One nats-server is started per name (its <c>-n</c> server name).</param>
    protected NatsFederationTestbed(string namespaces, params string[] serverNames)
    {
        _namespaces = namespaces;
        _serverNames = serverNames;
    }

    /// <summary>The servers, in the order of the names given to the constructor.</summary>
    protected IReadOnlyList<NatsServerProcess> Servers => _servers;

    /// <summary>The first server: the upstream of the tests that federate one server into another.</summary>
    protected NatsServerProcess Upstream => _servers[0];

    /// <summary>The second server: the downstream of the tests that federate one server into another.</summary>
    protected NatsServerProcess Downstream => _servers[1];

    /// <summary>Starts one nats-server per name given to the constructor.</summary>
    public async Task InitializeAsync()
    {
        var servers = new List<NatsServerProcess>();
        try
        {
            foreach (var name in _serverNames)
            {
                servers.Add(await NatsServerProcess.StartAsync("-n", name));
            }
        }
        finally
        {
            // Whatever started is stopped by DisposeAsync, even when a later server failed to start.
            _servers = [.. servers];
        }
    }

    /// <summary>A NATS link URI for <paramref name="server"/> with fast monitor polling, federating this test's namespaces.</summary>
    protected string Uri(NatsServerProcess server, string cluster) =>
        $"{server.Url}?cluster-name={cluster}&monitor-port={server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces={_namespaces}";

    /// <summary>Starts an engine over the NATS transport and returns once it has <paramref name="expectedLinks"/> links, all running.</summary>
    protected async Task<FederationEngine> StartEngineAsync(FederationOptions options, int expectedLinks = 1)
    {
        var engine = new FederationEngine(options, [new NatsTransport()]);
        _resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        await EventuallyAsync(
            () => Task.FromResult(engine.GetLinks() is { Count: var n } links && n == expectedLinks && links.All(l => l.State == LinkState.Running)),
            () => $"{expectedLinks} running link(s) into {options.Downstream.Uri}; have {DescribeLinks(engine)}");
        return engine;
    }

    /// <summary>Each link's URI, state and error, for failure messages.</summary>
    protected static string DescribeLinks(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    /// <summary>An application connection (the official client) to <paramref name="server"/>, disposed with the testbed.</summary>
    protected async Task<NatsConnection> ConnectAsync(NatsServerProcess server, string name = "test-app")
    {
        var connection = new NatsConnection(NatsOpts.Default with { Url = server.Url, Name = name });
        _resources.Add(connection);
        await connection.ConnectAsync();
        return connection;
    }

    /// <summary>A subscription on a new application connection, flushed (PING/PONG) so the server has the SUB.</summary>
    protected async Task<INatsSub<byte[]>> SubscribeAsync(NatsServerProcess server, string subject)
    {
        var connection = await ConnectAsync(server);
        var subscription = await connection.SubscribeCoreAsync<byte[]>(subject);
        await connection.PingAsync();
        return subscription;
    }

    /// <summary>Tracks <paramref name="resource"/> so the testbed disposes it.</summary>
    protected T Track<T>(T resource)
        where T : IAsyncDisposable
    {
        _resources.Add(resource);
        return resource;
    }

    /// <summary>Subscription subjects the server's monitor lists, excluding system ones and inboxes.</summary>
    protected async Task<List<string>> SubjectsAsync(NatsServerProcess server)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new System.Uri($"http://127.0.0.1:{server.MonitorPort}/subsz?subs=1&limit=100000")));
        return [.. doc.RootElement.GetProperty("subscriptions_list").EnumerateArray()
            .Where(s => s.GetProperty("account").GetString() != "$SYS")
            .Select(s => s.GetProperty("subject").GetString()!)
            .Where(s => !s.StartsWith('$') && !s.StartsWith("_INBOX.", StringComparison.Ordinal))];
    }

    /// <summary>The server's count of messages received from clients (monitor <c>/varz</c> <c>in_msgs</c>).</summary>
    protected async Task<long> InMsgsAsync(NatsServerProcess server)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(new System.Uri($"http://127.0.0.1:{server.MonitorPort}/varz")));
        return doc.RootElement.GetProperty("in_msgs").GetInt64();
    }

    /// <summary>Polls until <paramref name="subjects"/> are all among <paramref name="server"/>'s subscriptions.</summary>
    protected async Task WaitForSubjectsAsync(NatsServerProcess server, params string[] subjects)
    {
        List<string> have = [];
        await EventuallyAsync(
            async () => (have = await SubjectsAsync(server)) is var s && subjects.All(s.Contains),
            () => $"SUBs {string.Join(",", subjects)}; have {string.Join(",", have)}");
    }

    /// <summary>The next message of <paramref name="subscription"/>, within the deadline.</summary>
    protected static async Task<NatsMsg<byte[]>> ReadAsync(INatsSub<byte[]> subscription)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        return await subscription.Msgs.ReadAsync(timeout.Token);
    }

    /// <summary>The payload of <paramref name="message"/> as UTF-8 text (empty for an empty payload).</summary>
    protected static string Body(NatsMsg<byte[]> message) => System.Text.Encoding.UTF8.GetString(message.Data ?? []);

    /// <summary>Polls <paramref name="condition"/> until it holds; past the deadline fails with <paramref name="describe"/>.</summary>
    protected static async Task EventuallyAsync(Func<Task<bool>> condition, Func<string> describe)
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

    /// <inheritdoc cref="EventuallyAsync(Func{Task{bool}}, Func{string})"/>
    protected static Task Eventually(Func<bool> condition, Func<string> describe) => EventuallyAsync(() => Task.FromResult(condition()), describe);

    public async Task DisposeAsync()
    {
        for (var i = _resources.Count - 1; i >= 0; i--)
        {
            await _resources[i].DisposeAsync();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _http.Dispose();
    }
}
