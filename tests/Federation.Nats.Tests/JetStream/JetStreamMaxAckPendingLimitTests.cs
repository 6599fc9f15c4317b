using System.Collections.Concurrent;
using System.Threading.Channels;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A link whose <c>prefetch-count</c> is above what the server allows for a consumer's <c>max_ack_pending</c> (here the
/// server's JetStream limit of 500; an account's limit is refused the same way, err_code 10121): the link runs with the
/// server's limit and says so (warning 6402), whether its durable consumer existed before it consumed or is created after.
/// </summary>
public sealed class JetStreamMaxAckPendingLimitTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Limit = 500;
    private const int Prefetch = 2500;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly ConcurrentQueue<(EventId Id, string Message)> _logs = new();
    private string _configFile = null!;
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync()
    {
        _configFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(_configFile, $"jetstream {{ limits {{ max_ack_pending: {Limit} }} }}\n");
        _server = await NatsServerProcess.StartJetStreamAsync("js-ackpending-limit", "-c", _configFile);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        File.Delete(_configFile);
    }

    [Fact]
    public async Task A_consumer_created_after_the_link_consumes_falls_back_to_the_servers_limit_instead_of_failing_the_binding()
    {
        // The link consumes before any binding connects its queue (a downstream exchange without bindings yet): the durable
        // consumer is created later, at the first binding, with max_ack_pending = prefetch-count. Refused, the binding
        // failed, the link restarted, and what was published until it was back was never delivered (a new consumer starts
        // at new messages).
        await using var upstream = await ConnectAsync();
        await upstream.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        var deliveries = Channel.CreateUnbounded<Delivery>();
        var consumer = await upstream.ConsumeAsync("q", new ConsumerOptions(Prefetch), (d, token) => deliveries.Writer.WriteAsync(d, token), CancellationToken.None);
        await using var _ = consumer;

        await BindAsync(upstream);

        var created = Assert.Single(await JetStreamTestKit.ConsumersAsync(_server, "federation-orders"));
        Assert.Equal(Limit, created.Config.MaxAckPending);
        var warning = Assert.Single(_logs, l => l.Id.Id == 6402);
        Assert.Contains($"from {Limit} to the link's prefetch-count {Prefetch}", warning.Message, StringComparison.Ordinal);

        await PublishAsync("orders.x");
        using var timeout = new CancellationTokenSource(Deadline);
        Assert.Equal("x", (await deliveries.Reader.ReadAsync(timeout.Token)).RoutingKey);
    }

    [Fact]
    public async Task A_raise_of_an_existing_consumer_that_the_server_refuses_is_logged_with_the_limit_the_link_runs_with()
    {
        await using var upstream = await ConnectAsync();
        await upstream.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await BindAsync(upstream);
        Assert.Equal(Limit, Assert.Single(await JetStreamTestKit.ConsumersAsync(_server, "federation-orders")).Config.MaxAckPending);

        var consumer = await upstream.ConsumeAsync("q", new ConsumerOptions(Prefetch), (_, _) => ValueTask.CompletedTask, CancellationToken.None);
        await using var _ = consumer;

        Assert.Equal(Limit, Assert.Single(await JetStreamTestKit.ConsumersAsync(_server, "federation-orders")).Config.MaxAckPending);
        var warning = Assert.Single(_logs, l => l.Id.Id == 6402);

        // It said 1,000 (the server's default), not the limit the consumer has and the link runs with.
        Assert.Contains($"from {Limit} to the link's prefetch-count {Prefetch}", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"at most {Limit} unacknowledged", warning.Message, StringComparison.Ordinal);
    }

    private async Task<IBrokerConnection> ConnectAsync()
    {
        var logs = new TestOutputLoggerFactory(output, LogLevel.Warning, (id, message) => _logs.Enqueue((id, message)));
        return await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?cluster-name=U&jetstream=true&ack-wait-ms=5000", "Federation link test"), CancellationToken.None);
    }

    private static async Task BindAsync(IBrokerConnection connection)
    {
        await connection.DeclareExchangeAsync(new ExchangeSpec("orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        await connection.DeclareExchangeAsync(new ExchangeSpec("q A", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
        await connection.BindAsync(new BindingSpec("q A", "q", BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
        await connection.BindAsync(new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "#"), noWait: false, CancellationToken.None);
    }

    private async Task PublishAsync(string subject)
    {
        await using var nats = new NatsConnection(new NatsOpts { Url = _server.Url });
        (await new NatsJSContext(nats).PublishAsync(subject, "m"u8.ToArray())).EnsureSuccess();
    }
}
