using System.Globalization;
using System.Text;
using Federation.Testing.Brokers;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Xunit.Abstractions;

namespace FederationHost.Tests;

/// <summary>
/// Issue 13's first real-broker bar (<see cref="ThreeHostFailoverScenario"/>) on two RabbitMQ nodes: three
/// FederationHost processes with one configuration share 30 on-confirm links; the publisher sends persistent messages
/// with message-ids upstream, confirmed; a consumer of the downstream node counts what arrives by message-id. One host is
/// killed with SIGKILL, another stopped with SIGTERM: each time all 30 links run again in exactly one survivor within
/// 10 s, and every message arrives exactly once.
/// </summary>
[Collection(ThreeHostFailoverCollection.Name)]
public sealed class ThreeHostFailoverTests(ThreeHostFailoverTests.Nodes nodes, ITestOutputHelper output) : IClassFixture<ThreeHostFailoverTests.Nodes>, IAsyncLifetime
{
    /// <summary>This class's own pair of nodes: upstream and downstream, with distinct cluster names.</summary>
    public sealed class Nodes : RabbitMqNodePairFixture;

    private readonly ThreeHostFailoverScenario _scenario = new(output);
    private readonly List<IAsyncDisposable> _resources = [];

    public async Task InitializeAsync()
    {
        var connection = await ConnectAsync(nodes.Downstream);
        _resources.Add(connection);
        var channel = await connection.CreateChannelAsync();
        _resources.Add(channel);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            _scenario.Count(delivery.BasicProperties.MessageId);
            return Task.CompletedTask;
        };
        foreach (var exchange in _scenario.Exchanges)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true);
            var queue = (await channel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
            await channel.QueueBindAsync(queue, exchange, "#");
            await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        }
    }

    public async Task DisposeAsync()
    {
        await _scenario.DisposeAsync();
        foreach (var resource in Enumerable.Reverse(_resources))
        {
            await resource.DisposeAsync();
        }
    }

    [Fact]
    public Task Three_hosts_share_30_links_and_a_killed_or_stopped_hosts_links_run_again_within_10_s_delivering_every_message_once() =>
        _scenario.RunAsync(Settings, startCounting: () => Task.CompletedTask, PublishUntilAsync); // the consumer counts from the start

    /// <summary>Publishes persistent messages with message-ids through the scenario, each confirmed by the upstream node.</summary>
    private async Task<int> PublishUntilAsync(CancellationToken stop)
    {
        await using var connection = await ConnectAsync(nodes.Upstream);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), CancellationToken.None);
        // The links declared the upstream exchanges.
        return await _scenario.PublishUntilAsync(
            (exchange, id) => channel.BasicPublishAsync(exchange, "k", mandatory: false, new BasicProperties { MessageId = id, DeliveryMode = DeliveryModes.Persistent }, Encoding.ASCII.GetBytes(id), CancellationToken.None).AsTask(),
            stop);
    }

    // The README's recipe (appsettings.Amqp.example.json: on-confirm, prefetch 1000, max-hops 1) for this pair of nodes,
    // with "resource-cleanup-mode": "never", which the README's "Several hosts with one configuration" asks for on links
    // that another host takes over (a clean stop otherwise deletes the upstream queue and what it buffers).
    private string Settings(string instance) => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
          "Logging": { "LogLevel": { "Default": "Warning", "Microsoft.Hosting.Lifetime": "Information" } },
          "Federation": {
            "InstanceName": "{{instance}}",
            "Downstream": { "uri": "{{nodes.Downstream.AmqpUri()}}" },
            "Upstreams": {
              "up": { "uri": "{{nodes.Upstream.AmqpUri()}}", "max-hops": 1, "ack-mode": "on-confirm", "prefetch-count": 1000,
                      "reconnect-delay": 1, "resource-cleanup-mode": "never" }
            },
            "Policies": { "fed": { "pattern": "{{_scenario.PolicyPattern}}", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } } }
          }
        }
        """;

    private static async Task<IConnection> ConnectAsync(RabbitMqNode node) =>
        await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort.ToString(CultureInfo.InvariantCulture)}/") }.CreateConnectionAsync();
}
