using System.Globalization;
using System.Text;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Xunit.Abstractions;

namespace FederationHost.Tests;

/// <summary>
/// Issue 13's second real-broker bar (<see cref="ThreeHostFailoverScenario"/>) on two nats-servers with JetStream
/// (<c>-js -sd DIR</c>): three FederationHost processes with one configuration share 30 JetStream-durable links, each
/// holding its lease as a key of the downstream's <c>federation-leases</c> bucket. The publisher sends to the upstream
/// streams with <c>Nats-Msg-Id</c>, each confirmed by its PubAck; a reader of the 30 downstream streams counts what they
/// store by <c>Nats-Msg-Id</c>. One host is killed with SIGKILL, another stopped with SIGTERM: each time all 30 links run
/// again in exactly one survivor within 10 s, and every message is stored downstream exactly once.
/// </summary>
/// <remarks>
/// Exactly once is what a JetStream downstream promises: its stream drops a redelivered message whose id it stored
/// within the duplicate window, which is why the reader counts the streams and not a core subscription (which would
/// see a redelivery the stream refused).
/// </remarks>
[Collection(ThreeHostFailoverCollection.Name)]
public sealed class NatsThreeHostFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ThreeHostFailoverScenario _scenario = new(output);
    private readonly CancellationTokenSource _stopReading = new();
    private readonly List<Task> _readers = [];
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;
    private NatsConnection? _reader;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartJetStreamAsync("failover-up");
        _downstream = await NatsServerProcess.StartJetStreamAsync("failover-down");
    }

    public async Task DisposeAsync()
    {
        await _scenario.DisposeAsync();
        await _stopReading.CancelAsync();
        await Task.WhenAll(_readers);
        if (_reader is not null)
        {
            await _reader.DisposeAsync();
        }

        _stopReading.Dispose();
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Fact]
    public async Task Three_hosts_share_30_durable_nats_links_and_a_killed_or_stopped_hosts_links_run_again_within_10_s_storing_every_message_once()
    {
        await _scenario.RunAsync(Settings, StartReadingAsync, PublishUntilAsync);

        // Not asserted, as the AMQP test's dropped count: what the kill made the upstream redeliver, which the downstream
        // streams dropped by Nats-Msg-Id. Every delivery, a redelivery too, takes the next consumer sequence, and each
        // consumer was created before its stream's first message, so the difference to the stream sequence is the count.
        var redelivered = 0UL;
        foreach (var exchange in _scenario.Exchanges)
        {
            foreach (var consumer in await JetStreamTestKit.ConsumersAsync(_upstream, Stream(exchange)))
            {
                redelivered += consumer.Delivered.ConsumerSeq - consumer.Delivered.StreamSeq;
            }
        }

        _scenario.Log($"the upstream consumers redelivered {redelivered} messages (the downstream streams drop by Nats-Msg-Id those forwarded before)");
    }

    /// <summary>
    /// Reads every downstream stream from its start with an ordered consumer, which gets each stored message once, and
    /// counts it by <c>Nats-Msg-Id</c>. The hosts created the streams when they connected (<c>namespaces</c>).
    /// </summary>
    private async Task StartReadingAsync()
    {
        _reader = new NatsConnection(new NatsOpts { Url = _downstream.Url, Name = "failover-test-reader" });
        await _reader.ConnectAsync();
        var js = new NatsJSContext(_reader);
        foreach (var exchange in _scenario.Exchanges)
        {
            var consumer = await js.CreateOrderedConsumerAsync(Stream(exchange), new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.All });
            _readers.Add(Task.Run(() => CountAsync(consumer), CancellationToken.None));
        }
    }

    private async Task CountAsync(INatsJSConsumer consumer)
    {
        try
        {
            await foreach (var message in consumer.ConsumeAsync(NatsRawSerializer<byte[]>.Default, cancellationToken: _stopReading.Token))
            {
                _scenario.Count(message.Headers is { } headers && headers.TryGetValue("Nats-Msg-Id", out var id) ? id.ToString() : null);
            }
        }
        catch (OperationCanceledException)
        {
            // The test is over.
        }
    }

    /// <summary>Publishes with <c>Nats-Msg-Id</c> through the scenario, each confirmed by the upstream stream's PubAck.</summary>
    private async Task<int> PublishUntilAsync(CancellationToken stop)
    {
        // A PubAck may take long on a loaded machine; a timeout would fail the test though nothing went wrong.
        await using var nats = new NatsConnection(new NatsOpts { Url = _upstream.Url, Name = "failover-test-publisher", RequestTimeout = TimeSpan.FromSeconds(30) });
        await nats.ConnectAsync();
        var js = new NatsJSContext(nats);
        // The links created the upstream streams (federation-<exchange>, capturing <exchange>.>).
        return await _scenario.PublishUntilAsync(
            async (exchange, id) =>
            {
                var ack = await js.PublishAsync($"{exchange}.k", Encoding.ASCII.GetBytes(id), NatsRawSerializer<byte[]>.Default, new NatsJSPubOpts { MsgId = id }, cancellationToken: CancellationToken.None);
                ack.EnsureSuccess();
            },
            stop);
    }

    private static string Stream(string exchange) => "federation-" + exchange;

    // The README's JetStream recipe for this pair of servers: durable links (jetstream=true at both ends), on-confirm,
    // prefetch 1000, max-hops 1, and "resource-cleanup-mode": "never", so that a clean stop keeps the upstream durable
    // consumer for the host that takes the link over. ack-wait-ms=5000: what the killed host had in flight is
    // redelivered 5 s later, well inside the downstream streams' duplicate window (120 s). Leases: the defaults
    // (bucket federation-leases, time-to-live 5 s).
    private string Settings(string instance) => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
          "Logging": { "LogLevel": { "Default": "Warning", "Microsoft.Hosting.Lifetime": "Information" } },
          "Federation": {
            "InstanceName": "{{instance}}",
            "Downstream": { "uri": "nats://127.0.0.1:{{Port(_downstream.Port)}}?cluster-name=failover-down&monitor-port={{Port(_downstream.MonitorPort)}}&monitor-interval-ms=250&namespaces={{string.Join(",", _scenario.Exchanges)}}&jetstream=true" },
            "Upstreams": {
              "up": { "uri": "nats://127.0.0.1:{{Port(_upstream.Port)}}?cluster-name=failover-up&jetstream=true&ack-wait-ms=5000", "max-hops": 1,
                      "ack-mode": "on-confirm", "prefetch-count": 1000, "reconnect-delay": 1, "resource-cleanup-mode": "never" }
            },
            "Policies": { "fed": { "pattern": "{{_scenario.PolicyPattern}}", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } } }
          }
        }
        """;

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
