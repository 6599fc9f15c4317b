using System.Globalization;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A durable link never stalls behind one message: a message that the downstream can never take (over its
/// <c>max_payload</c>, or on a subject such as <c>orders.*</c>, which nats-server 2.9 stores but which no publish can
/// reproduce) is counted as dropped and acknowledged, where giving it back would have the upstream stream redeliver it
/// first, forever; and subjects that are literal to NATS (<c>#</c>, or <c>*</c> inside a word) cross as they are.
/// </summary>
public sealed class JetStreamRefusedMessageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Exchange = "orders";
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("nats-js-refused-").FullName;
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        var config = Path.Combine(_directory, "downstream.conf");
        await File.WriteAllTextAsync(config, "max_payload: 1024\n");
        _upstream = await NatsServerProcess.StartJetStreamAsync("refused-up");
        _downstream = await NatsServerProcess.StartJetStreamAsync("refused-down", "-c", config);
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_message_the_downstream_refuses_is_dropped_and_counted_and_the_messages_behind_it_cross()
    {
        var options = new FederationOptions
        {
            Downstream =
            {
                Uri = $"{_downstream.Url}?cluster-name=DOWN&monitor-port={Port(_downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{_upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        await engine.StartAsync(CancellationToken.None);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(_upstream, Stream) is [_],
            () => $"the link's durable consumer upstream; links: {Describe(engine)}",
            Deadline);

        await using (var nats = new NatsConnection(new NatsOpts { Url = _upstream.Url, Name = "test-producer" }))
        {
            var js = new NatsJSContext(nats);
            foreach (var (subject, body) in new[]
            {
                ("orders.big", new byte[2048]),
                ("orders.*", Encoding.ASCII.GetBytes("wildcard")), // stored by nats-server 2.9.10; no publish subject downstream
                ("orders.a#b", Encoding.ASCII.GetBytes("hash")),
                ("orders.*x.#", Encoding.ASCII.GetBytes("star")),
                ("orders.after", Encoding.ASCII.GetBytes("after")),
            })
            {
                var ack = await js.PublishAsync(subject, body);
                Assert.Null(ack.Error);
            }
        }

        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.CountAsync(_downstream, Stream) >= 3,
            () => $"the three messages behind the refused one downstream; links: {Describe(engine)}",
            Deadline);
        Assert.Equal(["hash", "star", "after"], await JetStreamTestKit.ReadAllTextAsync(_downstream, Stream));

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(2, link.DroppedMessages?.GetValueOrDefault("downstream_rejected"));
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(_upstream, Stream) is [{ NumPending: 0, NumAckPending: 0 }],
            () => "every upstream message acknowledged, the refused one included",
            Deadline);
    }

    /// <summary>
    /// An <c>amqp-timestamp</c> past the year 9999 as seconds made the mapping throw: the durable link failed before it
    /// could settle the message, and the stream redelivered it first after every restart, for ever. The exact value
    /// crosses now.
    /// </summary>
    [Fact]
    public async Task A_far_future_timestamp_crosses_unchanged_and_nothing_stays_pending()
    {
        var options = new FederationOptions
        {
            Downstream = { Uri = $"{_downstream.Url}?cluster-name=DOWN&monitor-port={Port(_downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true" },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{_upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()], new TestOutputLoggerFactory(output));
        await engine.StartAsync(CancellationToken.None);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(_upstream, Stream) is [_],
            () => $"the link's durable consumer upstream; links: {Describe(engine)}",
            Deadline);

        await using (var nats = new NatsConnection(new NatsOpts { Url = _upstream.Url, Name = "test-producer" }))
        {
            var js = new NatsJSContext(nats);
            Assert.Null((await js.PublishAsync("orders.far", Encoding.ASCII.GetBytes("far"), headers: new NatsHeaders { ["amqp-timestamp"] = "99999999999999" })).Error);
            Assert.Null((await js.PublishAsync("orders.after", Encoding.ASCII.GetBytes("after"))).Error);
        }

        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.CountAsync(_downstream, Stream) >= 2,
            () => $"both messages downstream; links: {Describe(engine)}",
            Deadline);
        Assert.Equal(["far", "after"], await JetStreamTestKit.ReadAllTextAsync(_downstream, Stream));
        await using (var nats = new NatsConnection(new NatsOpts { Url = _downstream.Url, Name = "test-reader" }))
        {
            var reader = await new NatsJSContext(nats).CreateOrUpdateConsumerAsync(Stream, new NATS.Client.JetStream.Models.ConsumerConfig { AckPolicy = NATS.Client.JetStream.Models.ConsumerConfigAckPolicy.None });
            using var deadline = new CancellationTokenSource(Deadline);
            var far = await reader.NextAsync<byte[]>(cancellationToken: deadline.Token);
            Assert.Equal("99999999999999", far?.Headers?["amqp-timestamp"].ToString());
        }

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Null(link.DroppedMessages);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(_upstream, Stream) is [{ NumPending: 0, NumAckPending: 0 }],
            () => "every upstream message acknowledged",
            Deadline);
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
