using System.Net.Sockets;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Testing.Brokers;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A RabbitMQ node with no plugins at all: no rabbitmq_management, no rabbitmq_event_exchange, no federation plugin.</summary>
public sealed class PluginlessNodeFixture : IAsyncLifetime
{
    private RabbitMqNode? node;

    public RabbitMqNode Node => node ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync(plugins: []);

    public async Task DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>Runs rabbitmqctl and returns its output; fails the test when it fails.</summary>
    public async Task<string> Ctl(params string[] arguments)
    {
        var result = await Node.CtlAsync(CancellationToken.None, arguments);
        Assert.True(result.ExitCode == 0, $"rabbitmqctl {string.Join(' ', arguments)}: {result.Output}");
        return result.Output;
    }
}

/// <summary>
/// Explicit mode over real RabbitMQ: the host declares the federated exchange and its bindings through
/// <see cref="ExplicitTopology"/>; the library declares them downstream and propagates the bindings upstream. The
/// downstream node has neither the management API nor the event exchange. (The upstream is the shared upstream node: the
/// link declares its internal exchange there through the management API, since RabbitMQ.Client cannot send
/// <c>internal</c> on exchange.declare.)
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class ExplicitTopologyTests(FederationNodesFixture nodes, PluginlessNodeFixture fixture) : IClassFixture<PluginlessNodeFixture>, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> resources = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> log = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }
    }

    [Fact]
    public async Task Declared_bindings_federate_without_management_or_event_plugins()
    {
        // Nothing listens on the management port: the observing mode could not work on this node.
        using (var probe = new TcpClient())
        {
            await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync("127.0.0.1", fixture.Node.ManagementPort));
        }

        var exchange = $"fed.orders.{Guid.NewGuid():N}";
        var downstream = await OpenChannelAsync(fixture.Node.AmqpPort);
        var upstream = await OpenChannelAsync(nodes.Upstream.AmqpPort);

        // The host declares its queue; not exclusive, since the library binds it from its own connection.
        var queue = $"orders-eu.{Guid.NewGuid():N}";
        await downstream.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);

        var topology = new ExplicitTopology();
        topology.DeclareExchange(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic));
        var binding = new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "eu.#");
        topology.Bind(binding);
        var engine = await StartEngineAsync(topology);
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.State == LinkState.Running)), "the link should run");
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"{timeout.Message} (downstream connected: {engine.IsDownstreamConnected}; links: {string.Join("; ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}; log: {string.Join(" | ", log)})", timeout);
        }

        // The library declared the exchange and the binding downstream, and the binding propagated upstream.
        Assert.Contains($"{exchange}\tqueue\t{queue}\teu.#", await fixture.Ctl("list_bindings", "source_name", "destination_kind", "destination_name", "routing_key"), StringComparison.Ordinal);
        await Poll.UntilAsync(async () => (await UpstreamBindingKeys(exchange)).Contains("eu.#") ? "" : null, "the binding should reach the upstream");

        for (var i = 0; i < 10; i++)
        {
            await upstream.BasicPublishAsync(exchange, i % 2 == 0 ? "eu.created" : "us.created", Encoding.UTF8.GetBytes($"m{i}"));
        }

        var received = new List<string>();
        await Poll.UntilAsync(async () =>
        {
            while (await downstream.BasicGetAsync(queue, autoAck: true) is { } message)
            {
                received.Add(Encoding.UTF8.GetString(message.Body.Span));
            }

            return received.Count >= 5 ? received : null;
        }, "the five eu messages should arrive downstream");
        Assert.Equal(["m0", "m2", "m4", "m6", "m8"], received);

        // Unbinding through the library removes the binding on both sides.
        topology.Unbind(binding);
        await Poll.UntilAsync(async () => (await UpstreamBindingKeys(exchange)).Contains("eu.#") ? null : "", "the binding should leave the upstream");
        Assert.DoesNotContain($"{exchange}\tqueue\t{queue}", await fixture.Ctl("list_bindings", "source_name", "destination_kind", "destination_name"), StringComparison.Ordinal);
        await downstream.QueueDeleteAsync(queue);
    }

    /// <summary>Routing keys of the bindings from the upstream exchange to the federation's internal exchange.</summary>
    private async Task<List<string>> UpstreamBindingKeys(string exchange)
    {
        var result = await nodes.Upstream.CtlAsync(CancellationToken.None, "list_bindings", "source_name", "destination_name", "routing_key");
        var output = result.Output;
        return [.. output.Split('\n')
            .Select(line => line.Split('\t'))
            .Where(fields => fields.Length == 3 && fields[0] == exchange && fields[1].StartsWith("federation: ", StringComparison.Ordinal))
            .Select(fields => fields[2].Trim())];
    }

    private async Task<FederationEngine> StartEngineAsync(ExplicitTopology topology)
    {
        var options = new FederationOptions { Downstream = { Uri = fixture.Node.AmqpUri() } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^fed\\.orders\\.", ApplyTo = "exchanges", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new AmqpTransport()], new CollectingLoggerFactory(log), explicitTopology: topology);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private async Task<IChannel> OpenChannelAsync(int port)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync();
        resources.Add(channel);
        return channel;
    }
}

/// <summary>Keeps warnings and errors, to explain a failure.</summary>
internal sealed class CollectingLoggerFactory(System.Collections.Concurrent.ConcurrentQueue<string> log) : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
{
    public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
    {
    }

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            log.Enqueue($"{formatter(state, exception)} {exception?.Message}");
        }
    }

    public void Dispose()
    {
    }
}
