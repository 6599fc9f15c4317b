using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Federation.Testing.Brokers;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Xunit.Abstractions;

namespace FederationHost.Tests;

/// <summary>
/// Issue 11's second bar, black-box: FederationHost runs as a child process on two real RabbitMQ nodes, configured the
/// README's way, with an on-confirm link (prefetch 1000). 20,000 persistent messages without a message-id pile up in the
/// link's upstream queue; the host is killed with SIGKILL while it drains them and started again. With duplicate
/// suppression (the default) the downstream gets every message exactly once, identified by its fingerprint; the same run
/// with <c>"duplicate-suppression": false</c> shows the duplicates a host crash causes. Both counts are printed.
/// </summary>
public sealed class DuplicateSuppressionHostKillTests(TwoRabbitMqNodesFixture nodes, ITestOutputHelper output) : IClassFixture<TwoRabbitMqNodesFixture>
{
    private const int Messages = 20_000;
    private const int KillAfter = Messages / 5;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Host_killed_mid_drain_and_started_again_delivers_every_message_exactly_once_with_suppression()
    {
        var off = await RunAsync(suppression: false);
        var on = await RunAsync(suppression: true);
        output.WriteLine($"host kill -9 mid-drain of {Messages}: duplicates with suppression off {off.Duplicates}, on {on.Duplicates}; lost off {off.Lost}, on {on.Lost}");

        Assert.Equal(0, off.Lost);
        Assert.Equal(0, on.Lost);
        Assert.Equal(0, on.Duplicates);
    }

    private async Task<(int Duplicates, int Lost)> RunAsync(bool suppression)
    {
        var clock = Stopwatch.StartNew();
        var exchange = $"orders.{(suppression ? "on" : "off")}.{Guid.NewGuid():N}";
        var upstreamQueue = $"federation: {exchange} -> {nodes.Downstream.ClusterName}";
        await using var downstream = await ConnectAsync(nodes.Downstream);
        var channel = await downstream.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true);
        var queue = (await channel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
        await channel.QueueBindAsync(queue, exchange, "#");
        var copies = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            copies.AddOrUpdate(Encoding.ASCII.GetString(delivery.Body.Span[..6]), 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer);

        try
        {
            // First run: the link declares its upstream queue and binding; SIGKILL leaves them there (no cleanup runs).
            await using (var first = HostProcess.Start(Settings(exchange, suppression)))
            {
                await Eventually.UntilAsync(() => BoundAsync(exchange), bound => bound, $"the link's binding upstream\n{first.Describe()}", Deadline);
            }

            await PublishConfirmedAsync(exchange);
            output.WriteLine($"{clock.Elapsed}: {Messages} piled up upstream (suppression {(suppression ? "on" : "off")})");

            await using (var draining = HostProcess.Start(Settings(exchange, suppression)))
            {
                await Eventually.UntilAsync(() => Task.FromResult(copies.Count), n => n >= KillAfter, $"a fifth of the messages downstream\n{draining.Describe()}", Deadline);
            }

            var atKill = copies.Count;
            output.WriteLine($"{clock.Elapsed}: host killed (SIGKILL) after {atKill} distinct messages had arrived");
            Assert.InRange(atKill, KillAfter, Messages - 1);

            await using var restarted = HostProcess.Start(Settings(exchange, suppression));
            await Eventually.UntilAsync(() => Task.FromResult(copies.Count), n => n >= Messages, $"all {Messages} distinct messages downstream; have {copies.Count}\n{restarted.Describe()}", Deadline);
            await Eventually.UntilAsync(() => DepthAsync(nodes.Upstream, upstreamQueue), n => n == 0, "the upstream queue drained", Deadline);

            // Copies still on their way would be counted late: wait until the count stands still (not a fixed sleep).
            var last = -1;
            var stable = Stopwatch.StartNew();
            await Eventually.UntilAsync(
                () =>
                {
                    var now = copies.Values.Sum();
                    if (now != last)
                    {
                        last = now;
                        stable.Restart();
                    }

                    return Task.FromResult(stable.Elapsed);
                },
                quiet => quiet > TimeSpan.FromSeconds(2),
                "the downstream count should settle",
                Deadline);
            var duplicates = copies.Values.Sum(n => n - 1);
            var lost = Messages - copies.Count;
            output.WriteLine($"{clock.Elapsed}: suppression {(suppression ? "on" : "off")}: {copies.Values.Sum()} copies of {copies.Count} distinct messages: {duplicates} duplicates, {lost} lost");
            return (duplicates, lost);
        }
        finally
        {
            await using var upstream = await ConnectAsync(nodes.Upstream);
            var cleanup = await upstream.CreateChannelAsync();
            await cleanup.QueueDeleteAsync(upstreamQueue);
            await cleanup.ExchangeDeleteAsync(exchange);
            foreach (var ledger in await QueuesAsync(nodes.Downstream, $"federation: {exchange} <- up ledger "))
            {
                await channel.QueueDeleteAsync(ledger);
            }

            await channel.ExchangeDeleteAsync(exchange);
        }
    }

    private string Settings(string exchange, bool suppression) => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
          "Logging": { "LogLevel": { "Default": "Warning" } },
          "Federation": {
            "Downstream": { "uri": "amqp://guest:guest@127.0.0.1:{{Port(nodes.Downstream.AmqpPort)}}/%2f?management-port={{Port(nodes.Downstream.ManagementPort)}}" },
            "Upstreams": {
              "up": {
                "uri": "amqp://guest:guest@127.0.0.1:{{Port(nodes.Upstream.AmqpPort)}}/%2f?management-port={{Port(nodes.Upstream.ManagementPort)}}",
                "ack-mode": "on-confirm",
                "prefetch-count": 1000,
                "reconnect-delay": 0.5,
                "resource-cleanup-mode": "never",
                "duplicate-suppression": {{(suppression ? "true" : "false")}}
              }
            },
            "Policies": { "fed": { "pattern": "^{{exchange.Replace(".", "\\\\.", StringComparison.Ordinal)}}$", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } } }
          }
        }
        """;

    private static async Task<IConnection> ConnectAsync(RabbitMqNode node) =>
        await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{Port(node.AmqpPort)}/") }.CreateConnectionAsync();

    private async Task<bool> BoundAsync(string exchange)
    {
        var result = await nodes.Upstream.CtlAsync(CancellationToken.None, "list_bindings", "--no-table-headers", "--quiet", "source_name", "destination_name");
        return result.Output.Split('\n').Any(l => l.StartsWith(exchange + "\tfederation: ", StringComparison.Ordinal));
    }

    private static async Task<int> DepthAsync(RabbitMqNode node, string queue)
    {
        var result = await node.CtlAsync(CancellationToken.None, "list_queues", "--no-table-headers", "--quiet", "name", "messages");
        var line = result.Output.Split('\n').SingleOrDefault(l => l.StartsWith(queue + "\t", StringComparison.Ordinal));
        return line is null ? -1 : int.Parse(line.Split('\t').Last().Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task<IReadOnlyList<string>> QueuesAsync(RabbitMqNode node, string prefix)
    {
        var result = await node.CtlAsync(CancellationToken.None, "list_queues", "--no-table-headers", "--quiet", "name");
        return [.. result.Output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(prefix, StringComparison.Ordinal))];
    }

    private async Task PublishConfirmedAsync(string exchange)
    {
        await using var connection = await ConnectAsync(nodes.Upstream);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var padding = new string('x', 250);
        var batch = new List<Task>(1000);
        for (var i = 0; i < Messages; i++)
        {
            // No message-id: the link identifies these by their fingerprint (the body differs per message).
            var body = Encoding.ASCII.GetBytes($"m{i:D5}{padding}");
            batch.Add(channel.BasicPublishAsync(exchange, "order.created", mandatory: false, new BasicProperties { DeliveryMode = DeliveryModes.Persistent }, body).AsTask());
            if (batch.Count == 1000 || i == Messages - 1)
            {
                await Task.WhenAll(batch);
                batch.Clear();
            }
        }
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
