using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Topology;
using Federation.Testing.Brokers;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>Three real RabbitMQ nodes with distinct cluster names, shared by the scenario tests that do not stop nodes.</summary>
public sealed class ThreeNodesFixture : IAsyncLifetime
{
    private readonly List<RabbitMqNode> nodes = [];

    public RabbitMqNode A => nodes[0];

    public RabbitMqNode B => nodes[1];

    public RabbitMqNode C => nodes[2];

    public async Task InitializeAsync()
    {
        var started = await Task.WhenAll(RabbitMqNode.StartNewAsync(), RabbitMqNode.StartNewAsync(), RabbitMqNode.StartNewAsync());
        nodes.AddRange(started);
    }

    public async Task DisposeAsync()
    {
        foreach (var node in nodes)
        {
            await node.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ThreeNodesCollection : ICollectionFixture<ThreeNodesFixture>
{
    public const string Name = "RabbitMQ scenario nodes (three)";
}

/// <summary>An upstream and a downstream node of their own, because the restart scenario stops the upstream.</summary>
public sealed class RestartScenarioNodesFixture : RabbitMqNodePairFixture;

[CollectionDefinition(Name)]
public sealed class RestartScenarioCollection : ICollectionFixture<RestartScenarioNodesFixture>
{
    public const string Name = "RabbitMQ scenario nodes (restart)";
}

/// <summary>
/// Per-test resources: plain RabbitMQ.Client channels, engines, exchanges to delete. Disposal stops engines first (so they
/// remove their upstream queues), then deletes the declared exchanges, then closes the connections.
/// </summary>
internal sealed class ScenarioContext : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> connections = [];
    private readonly List<FederationEngine> engines = [];
    private readonly List<(RabbitMqNode Node, string Exchange)> exchanges = [];

    public static string UniqueName(string prefix) => $"{prefix}.{Guid.NewGuid():N}";

    public async Task<IChannel> ChannelAsync(RabbitMqNode node, CreateChannelOptions? options = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort}/") };
        var connection = await factory.CreateConnectionAsync();
        connections.Add(connection);
        var channel = await connection.CreateChannelAsync(options);
        connections.Add(channel);
        return channel;
    }

    /// <summary>Declares a durable topic exchange on the node and remembers to delete it.</summary>
    public async Task DeclareExchangeAsync(RabbitMqNode node, string exchange, string type = ExchangeType.Topic)
    {
        var channel = await ChannelAsync(node);
        await channel.ExchangeDeclareAsync(exchange, type, durable: true, autoDelete: false);
        exchanges.Add((node, exchange));
    }

    /// <summary>Remembers an exchange the engine declares upstream (a mirror of the downstream one) to delete it.</summary>
    public void DeleteLater(RabbitMqNode node, string exchange) => exchanges.Add((node, exchange));

    /// <summary>Declares an exclusive server-named queue on the node, binds it (with optional binding arguments) and starts consuming it.</summary>
    public async Task<QueueProbe> BindQueueAsync(RabbitMqNode node, string exchange, string key, IDictionary<string, object?>? arguments = null)
    {
        var channel = await ChannelAsync(node);
        var queue = (await channel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, exchange, key, arguments);
        var probe = new QueueProbe(channel, queue);
        await probe.StartAsync();
        return probe;
    }

    public static async Task PublishAsync(IChannel channel, string exchange, string key, string body, BasicProperties? properties = null) =>
        await channel.BasicPublishAsync(exchange, key, mandatory: false, properties ?? new BasicProperties(), Encoding.UTF8.GetBytes(body));

    /// <summary>Options for an engine on <paramref name="downstream"/> whose policy federates exactly the given exchange.</summary>
    public static FederationOptions Options(RabbitMqNode downstream, string exchange, params (string Name, RabbitMqNode Node, Action<UpstreamDefinition>? Configure)[] upstreams)
    {
        var options = new FederationOptions { Downstream = { Uri = downstream.AmqpUri() } };
        foreach (var (name, node, configure) in upstreams)
        {
            var definition = new UpstreamDefinition { Uris = { node.AmqpUri() }, ReconnectDelaySeconds = 1 };
            configure?.Invoke(definition);
            options.Upstreams[name] = definition;
        }

        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + Regex.Escape(exchange) + "$",
            ApplyTo = "exchanges",
            Definition = upstreams.Length == 1 ? new FederationPolicyDefinition { FederationUpstream = upstreams[0].Name } : new FederationPolicyDefinition { FederationUpstreamSet = "all" },
        };
        return options;
    }

    public async Task<FederationEngine> StartEngineAsync(FederationOptions options, ExplicitTopology? explicitTopology = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null, Federation.Core.Transport.ITransport? transport = null)
    {
        var engine = new FederationEngine(options, [transport ?? new AmqpTransport()], loggerFactory, explicitTopology: explicitTopology);
        engines.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return engine;
    }

    public static Task<LinkStatus> WaitForLinkAsync(FederationEngine engine, string exchange, LinkState state) =>
        Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l.State == state)),
            $"a link for {exchange} should be {state}; links: {string.Join("; ", engine.GetLinks().Select(l => $"{l.Exchange} {l.State} {l.Error}"))}",
            TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        foreach (var engine in engines)
        {
            try
            {
                await engine.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception)
            {
                // Best effort: disposal below still releases everything.
            }

            await engine.DisposeAsync();
        }

        foreach (var (node, exchange) in exchanges)
        {
            try
            {
                var channel = await ChannelAsync(node);
                await channel.ExchangeDeleteAsync(exchange);
            }
            catch (Exception)
            {
                // A stopped node or an already deleted exchange.
            }
        }

        foreach (var resource in Enumerable.Reverse(connections))
        {
            try
            {
                await resource.DisposeAsync();
            }
            catch (Exception)
            {
                // Already closed.
            }
        }
    }
}

/// <summary>Collects what a queue receives through a plain RabbitMQ.Client consumer.</summary>
internal sealed class QueueProbe(IChannel channel, string queue)
{
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(2);

    private readonly ConcurrentQueue<(string Body, IReadOnlyBasicProperties Properties)> received = new();

    public string Queue => queue;

    public IChannel Channel => channel;

    public int Count => received.Count;

    public IReadOnlyList<string> Bodies => [.. received.Select(r => r.Body)];

    public IReadOnlyList<(string Body, IReadOnlyBasicProperties Properties)> Received => [.. received];

    public async Task StartAsync()
    {
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            received.Enqueue((Encoding.UTF8.GetString(delivery.Body.Span), delivery.BasicProperties));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
    }

    /// <summary>Waits for exactly these bodies (in any order): the count is reached, then stays for a quiet period.</summary>
    public async Task ExpectAsync(params string[] expected)
    {
        await Poll.UntilAsync(() => Task.FromResult(Count >= expected.Length ? this : null), $"{queue} should receive [{string.Join(",", expected)}], has [{string.Join(",", Bodies)}]");
        await ExpectNoMoreAsync([(this, expected.Length)]);
        Assert.Equal(expected.Order(StringComparer.Ordinal), Bodies.Order(StringComparer.Ordinal));
    }

    /// <summary>One deadline-bounded quiet period for many probes: each may hold at most its count.</summary>
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

            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }
    }
}

/// <summary>The few rabbitmq_management HTTP API reads the scenarios check the upstream with.</summary>
internal static class Management
{
    private static readonly HttpClient Http = CreateClient();

    public sealed record Binding(string Source, string Destination, string DestinationType, string RoutingKey);

    public static async Task<IReadOnlyList<Binding>> SourceBindingsAsync(RabbitMqNode node, string exchange)
    {
        using var document = await GetAsync(node, $"exchanges/%2F/{Uri.EscapeDataString(exchange)}/bindings/source");
        if (document is null)
        {
            return [];
        }

        return [.. document.RootElement.EnumerateArray().Select(b => new Binding(
            b.GetProperty("source").GetString()!,
            b.GetProperty("destination").GetString()!,
            b.GetProperty("destination_type").GetString()!,
            b.GetProperty("routing_key").GetString()!))];
    }

    /// <summary>The routing keys of the bindings the federation declared on the upstream exchange, sorted.</summary>
    public static async Task<IReadOnlyList<string>> FederationKeysAsync(RabbitMqNode node, string exchange) =>
        [.. (await SourceBindingsAsync(node, exchange)).Where(b => b.Destination.StartsWith("federation: ", StringComparison.Ordinal)).Select(b => b.RoutingKey).Order(StringComparer.Ordinal)];

    public static async Task<IReadOnlyList<string>> NamesAsync(RabbitMqNode node, string kind)
    {
        using var document = await GetAsync(node, $"{kind}/%2F?columns=name");
        return document is null ? [] : [.. document.RootElement.EnumerateArray().Select(e => e.GetProperty("name").GetString()!)];
    }

    /// <summary>
    /// The arguments of the queue whose name starts with <paramref name="namePrefix"/>, as the broker reports them (each
    /// value as its JSON text), or an empty map while there is no such queue.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> QueueArgumentsAsync(RabbitMqNode node, string namePrefix)
    {
        using var document = await GetAsync(node, "queues/%2F?columns=name,arguments");
        var queue = document?.RootElement.EnumerateArray().FirstOrDefault(q => q.GetProperty("name").GetString()!.StartsWith(namePrefix, StringComparison.Ordinal));
        return queue is { ValueKind: JsonValueKind.Object } found
            ? found.GetProperty("arguments").EnumerateObject().ToDictionary(a => a.Name, a => a.Value.GetRawText(), StringComparer.Ordinal)
            : new Dictionary<string, string>();
    }

    /// <summary>Polls until <paramref name="condition"/> holds for the value read, or fails with the last value.</summary>
    public static async Task<T> WaitAsync<T>(Func<Task<T>> read, Func<T, bool> condition, string because)
    {
        T last = default!;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            last = await read();
            if (condition(last))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out: {because}; last: {Describe(last)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }

    private static string Describe(object? value) => value is System.Collections.IEnumerable e and not string ? "[" + string.Join(",", e.Cast<object?>()) + "]" : value?.ToString() ?? "null";

    private static async Task<JsonDocument?> GetAsync(RabbitMqNode node, string path)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{node.ManagementPort}/api/{path}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
    }

    private static HttpClient CreateClient()
    {
        var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("guest:guest")));
        return client;
    }
}
