using System.Collections.Concurrent;
using System.Text;
using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Topology;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// In-memory brokers plus one federation engine per downstream, with the plumbing the scenario tests share:
/// app connections, queue probes and deadline-bounded waits.
/// </summary>
internal sealed class Testbed : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    private readonly List<FederationEngine> _engines = [];
    private readonly List<IAsyncDisposable> _resources = [];

    public Testbed() => Transport = new InMemoryTransport(Registry);

    public InMemoryBrokerRegistry Registry { get; } = new();

    public InMemoryTransport Transport { get; }

    /// <summary>Wraps the transport that engines started from now on use, to observe or alter what their links do.</summary>
    public Func<ITransport, ITransport>? WrapTransport { get; set; }

    /// <summary>A broker whose cluster name is its name.</summary>
    public InMemoryBroker Broker(string name) => Registry.GetOrAdd(name, name);

    public static string Uri(string broker, string vhost = "/") => $"memory://{broker}/{System.Uri.EscapeDataString(vhost)}";

    /// <summary>Starts an engine federating into <paramref name="broker"/> (and vhost).</summary>
    public async Task<FederationEngine> StartEngineAsync(string broker, Action<FederationOptions> configure, string vhost = "/", ExplicitTopology? explicitTopology = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        Broker(broker);
        var options = new FederationOptions { Downstream = { Uri = Uri(broker, vhost) } };
        configure(options);

        // Upstream brokers exist unless a test names them "missing-..." to exercise an unreachable upstream.
        foreach (var uri in options.Upstreams.Values.SelectMany(u => u.Uris))
        {
            var host = uri["memory://".Length..].Split('/')[0].Split('@')[^1];
            if (!host.StartsWith("missing-", StringComparison.Ordinal))
            {
                Broker(host);
            }
        }

        var engine = new FederationEngine(options, [WrapTransport?.Invoke(Transport) ?? Transport], loggerFactory, timeProvider: time, explicitTopology: explicitTopology);
        _engines.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return engine;
    }

    /// <summary>
    /// The plugin fixture's basic link: D's topic exchange "fed.downstream" federates U's exchange "upstream"; a queue on D
    /// is bound with <paramref name="routingKey"/>. Returns once the link runs and the binding has reached U.
    /// </summary>
    public async Task<(FederationEngine Engine, QueueProbe Queue)> StartSimpleLinkAsync(Action<UpstreamDefinition>? configure = null, string routingKey = "key", TimeProvider? time = null)
    {
        var engine = await StartEngineAsync("D", o => o.Upstream("u", "U", u =>
        {
            u.Exchange = "upstream";
            configure?.Invoke(u);
        }).Policy("fed", "^fed\\.", upstream: "u"), time: time);
        await DeclareExchangeAsync(await ConnectAsync("D"), "fed.downstream");
        var queue = await BindQueueAsync("D", "fed.downstream", routingKey);
        await WaitForRunningLinksAsync(engine, 1);
        await WaitForBindingsAsync("U", "upstream", routingKey, 1);
        return (engine, queue);
    }

    /// <summary>An application connection, as any client of the broker would have.</summary>
    /// <summary>Copies the upstreams and policies of <paramref name="configured"/> into <paramref name="options"/>, the options an engine starts with.</summary>
    public static void AddUpstreamsAndPolicies(FederationOptions options, FederationOptions configured)
    {
        foreach (var (name, upstream) in configured.Upstreams)
        {
            options.Upstreams[name] = upstream;
        }

        foreach (var (name, policy) in configured.Policies)
        {
            options.Policies[name] = policy;
        }
    }

    public async Task<IBrokerConnection> ConnectAsync(string broker, string vhost = "/")
    {
        var connection = await Broker(broker).ConnectAsync(vhost, "test-app");
        _resources.Add(connection);
        return connection;
    }

    /// <summary>Declares a queue bound to <paramref name="exchange"/> and collects what arrives in it.</summary>
    public async Task<QueueProbe> BindQueueAsync(string broker, string exchange, string routingKey, string? queue = null, string vhost = "/")
    {
        var connection = await ConnectAsync(broker, vhost);
        queue ??= $"q-{broker}-{exchange}-{routingKey}-{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false), CancellationToken.None);
        await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, routingKey), false, CancellationToken.None);
        var probe = new QueueProbe(connection, queue);
        await probe.StartAsync();
        _resources.Add(probe);
        return probe;
    }

    public static async Task DeclareExchangeAsync(IBrokerConnection connection, string name, string type = ExchangeSpec.Types.Topic) =>
        await connection.DeclareExchangeAsync(new ExchangeSpec(name, type), CancellationToken.None);

    public static async Task PublishAsync(IBrokerConnection connection, string exchange, string routingKey, string body, MessageProperties? properties = null)
    {
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        await publisher.PublishAsync(exchange, routingKey, properties ?? new MessageProperties(), Encoding.UTF8.GetBytes(body), CancellationToken.None);
    }

    /// <summary>Waits until the engine has <paramref name="count"/> links, all running.</summary>
    public static Task WaitForRunningLinksAsync(FederationEngine engine, int count) =>
        Eventually(() => engine.GetLinks() is var links && links.Count == count && links.All(l => l.State == LinkState.Running),
            () => $"expected {count} running links, have: {string.Join(", ", engine.GetLinks().Select(l => $"{l.Exchange}<-{l.Upstream}:{l.State} {l.Error}"))}");

    /// <summary>Waits until a binding with <paramref name="routingKey"/> exists <paramref name="count"/> times on an exchange.</summary>
    public Task WaitForBindingsAsync(string broker, string exchange, string routingKey, int count, string vhost = "/") =>
        Eventually(() => Broker(broker).GetBindings(vhost, exchange).Count(b => b.RoutingKey == routingKey) == count,
            () => $"expected {count} '{routingKey}' bindings on {broker}/{exchange}, have {Broker(broker).GetBindings(vhost, exchange).Count(b => b.RoutingKey == routingKey)}");

    /// <summary>Polls <paramref name="condition"/> until it holds or the deadline passes (then fails with <paramref name="describe"/>).</summary>
    public static async Task Eventually(Func<bool> condition, Func<string> describe, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Deadline);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out: " + describe());
            }

            await Task.Delay(PollInterval);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var engine in _engines)
        {
            await engine.DisposeAsync();
        }

        foreach (var resource in _resources)
        {
            try
            {
                await resource.DisposeAsync();
            }
            catch (TransportException)
            {
                // Already closed by a fault the test injected.
            }
        }
    }
}

/// <summary>Consumes a queue (auto-ack) and records every delivery.</summary>
internal sealed class QueueProbe(IBrokerConnection connection, string queue) : IAsyncDisposable
{
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(200);

    private readonly ConcurrentQueue<Delivery> _received = new();
    private IMessageConsumer? _consumer;

    public string Queue { get; } = queue;

    public IReadOnlyList<Delivery> Received => [.. _received];

    public IReadOnlyList<string> Bodies => [.. _received.Select(d => Encoding.UTF8.GetString(d.Body.Span))];

    public int Count => _received.Count;

    public async Task StartAsync() =>
        _consumer = await connection.ConsumeAsync(Queue, new ConsumerOptions(0, AutoAck: true), (d, _) =>
        {
            _received.Enqueue(d);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);

    /// <summary>Waits for exactly <paramref name="expected"/> bodies (in any order), then checks nothing more arrives for a moment.</summary>
    public async Task ExpectAsync(params string[] expected)
    {
        await Testbed.Eventually(() => Count >= expected.Length, () => $"{Queue}: expected [{string.Join(",", expected)}], got [{string.Join(",", Bodies)}]");
        await ExpectNoMoreThanAsync(expected.Length);
        Assert.Equal(expected.Order(StringComparer.Ordinal), Bodies.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Federation is asynchronous, so "no more messages" can only be checked for a while: a marker-free quiet period.
    /// This is a bound on extra deliveries, not a timing claim.
    /// </summary>
    public Task ExpectNoMoreThanAsync(int count) => ExpectNoMoreAsync([(this, count)]);

    /// <summary>One shared quiet period for many probes: each may hold at most its count.</summary>
    public static async Task ExpectNoMoreAsync(IReadOnlyList<(QueueProbe Probe, int Count)> limits)
    {
        var quietUntil = DateTime.UtcNow + QuietPeriod;
        while (true)
        {
            foreach (var (probe, count) in limits)
            {
                Assert.True(probe.Count <= count, $"{probe.Queue}: expected at most {count}, got [{string.Join(",", probe.Bodies)}]");
            }

            if (DateTime.UtcNow >= quietUntil)
            {
                return;
            }

            await Task.Delay(Testbed.PollInterval);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_consumer is not null)
        {
            await _consumer.DisposeAsync();
        }
    }
}
