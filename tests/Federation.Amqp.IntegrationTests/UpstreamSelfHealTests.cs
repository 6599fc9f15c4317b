using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// The link's periodic upstream check on real nodes: an upstream exchange that a publisher deletes and declares again
/// (which takes the link's bindings with the old one) gets the link's bindings back without a restart, and one deleted for
/// good is declared again by a restart. The 10 s check runs every half second here (see <see cref="FastChecks"/>).
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class UpstreamSelfHealTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> resources = [];
    private readonly string exchange = $"fed.selfheal.{Guid.NewGuid():N}";
    private IConnection upstreamConnection = null!;
    private IChannel upstream = null!;
    private IChannel downstream = null!;
    private string downstreamQueue = null!;
    private FederationEngine engine = null!;

    private string UpstreamQueue => $"federation: {exchange} -> {nodes.Downstream.ClusterName}";

    public async Task InitializeAsync()
    {
        upstream = await OpenChannelAsync(nodes.Upstream.AmqpPort);
        downstream = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        await upstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        downstreamQueue = (await downstream.QueueDeclareAsync($"{exchange}.received", durable: false, exclusive: false, autoDelete: false)).QueueName;
        await downstream.QueueBindAsync(downstreamQueue, exchange, "k.#");

        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() }, SpreadLinks = false };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(exchange) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        engine = new FederationEngine(options, [new AmqpTransport()], timeProvider: new FastChecks());
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        await ExpectCapturedAsync("before");
    }

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        await using var up = await OpenChannelAsync(nodes.Upstream.AmqpPort);
        await up.QueueDeleteAsync(UpstreamQueue);
        await up.ExchangeDeleteAsync(exchange);
        await using var down = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        await down.QueueDeleteAsync(downstreamQueue);
        await down.ExchangeDeleteAsync(exchange);
    }

    [Fact]
    public async Task An_upstream_exchange_deleted_and_declared_again_by_a_publisher_is_captured_again_without_a_restart()
    {
        var running = RunningLink();

        // As amqplib's deleteExchange then assertExchange of a publisher that redeclares its exchange.
        await upstream.ExchangeDeleteAsync(exchange);
        await upstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);

        await ExpectCapturedAsync("after");
        var now = RunningLink();
        Assert.Equal(running.Since, now.Since); // repaired in place, not restarted
    }

    [Fact]
    public async Task An_upstream_exchange_deleted_for_good_is_declared_again_by_a_restart_of_the_link()
    {
        var running = RunningLink();
        await upstream.ExchangeDeleteAsync(exchange);

        await Poll.UntilAsync(
            async () => await ExchangeExistsAsync(exchange) && engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange) is { State: LinkState.Running } l && l.Since > running.Since ? l : null,
            "the link restarts and declares the upstream exchange again");
        await ExpectCapturedAsync("after");
    }

    private LinkStatus RunningLink() =>
        Assert.Single(engine.GetLinks(), l => l.Exchange == exchange && l.State == LinkState.Running);

    /// <summary>Publishes upstream until a message arrives downstream: what goes before the link captures again is lost.</summary>
    private async Task ExpectCapturedAsync(string tag)
    {
        var sent = 0;
        await Poll.UntilAsync(
            async () =>
            {
                await upstream.BasicPublishAsync(exchange, "k.1", Encoding.UTF8.GetBytes($"{tag}-{sent++}"));
                while (await downstream.BasicGetAsync(downstreamQueue, autoAck: true) is { } message)
                {
                    if (Encoding.UTF8.GetString(message.Body.Span).StartsWith(tag + "-", StringComparison.Ordinal))
                    {
                        return message;
                    }
                }

                return null;
            },
            $"a message published upstream ({tag}) arrives downstream; the link is {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}");
    }

    private async Task<bool> ExchangeExistsAsync(string name)
    {
        // A channel of its own: a failed passive declare closes the channel it ran on.
        await using var channel = await upstreamConnection.CreateChannelAsync();
        try
        {
            await channel.ExchangeDeclarePassiveAsync(name);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return false;
        }
    }

    private async Task<IChannel> OpenChannelAsync(int port)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        if (port == nodes.Upstream.AmqpPort)
        {
            upstreamConnection = connection;
        }

        var channel = await connection.CreateChannelAsync();
        resources.Add(channel);
        return channel;
    }

    /// <summary>
    /// The system clock, except that a 10 s timer (the link's upstream check, the plugin's
    /// <c>internal_exchange_check_interval</c>, 90 s there) fires after half a second, so that a test sees several checks.
    /// </summary>
    private sealed class FastChecks : TimeProvider
    {
        private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(10);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            base.CreateTimer(callback, state, dueTime == CheckInterval ? TimeSpan.FromMilliseconds(500) : dueTime, period);
    }
}
