using System.Text;
using System.Threading.Channels;
using Federation.Core.Transport;
using Federation.Nats.Tests.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A JetStream upstream stores whatever header block a publisher sent (nats-server checks only the NATS/1.0 prefix), so a
/// message the official client cannot parse reaches the link's durable consumer. It cannot be carried: it must be counted
/// as <c>unreadable</c> and terminated, as on a core NATS upstream, and the messages behind it must still cross. (A
/// black-box run on 8 Dec 2026 found it acknowledged without a count: lost silently, the link's status showing nothing.)
/// </summary>
public sealed class JetStreamUnreadableHeaderTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly NatsTransport _transport = new();
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await NatsServerProcess.StartJetStreamAsync("js-unreadable");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("NATS/1.0\r\nnocolonhere\r\n\r\n")]
    [InlineData("NATS/1.0\r\n: empty-name\r\n\r\n")]
    [InlineData("NATS/1.0\nA: lf-only\n\n")]
    public async Task An_unreadable_header_block_in_the_stream_is_counted_as_unreadable_and_the_rest_crosses(string headerBlock)
    {
        var upstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=U&jetstream=true&ack-wait-ms=1000", "Federation link test"), CancellationToken.None);
        await using var _ = upstream;
        await upstream.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await upstream.DeclareExchangeAsync(new ExchangeSpec("orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        await upstream.DeclareExchangeAsync(new ExchangeSpec("q A", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
        await upstream.BindAsync(new BindingSpec("q A", "q", BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
        await upstream.BindAsync(new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "#"), noWait: false, CancellationToken.None);

        var drops = new List<string>();
        var deliveries = Channel.CreateUnbounded<Delivery>();
        var options = new ConsumerOptions(10) { Dropped = (reason, count, _) => { lock (drops) { drops.Add($"{reason}:{count}"); } } };
        await using var consumer = await upstream.ConsumeAsync("q", options, (d, token) => deliveries.Writer.WriteAsync(d, token), CancellationToken.None);

        await using (var raw = await RawNatsClient.ConnectAsync(_server.Port))
        {
            await raw.HpubAsync("orders.bad", headerBlock, "bad");
            await raw.PingAsync();
        }

        await using (var nats = new NatsConnection(new NatsOpts { Url = _server.Url }))
        {
            (await new NatsJSContext(nats).PublishAsync("orders.good", "good"u8.ToArray())).EnsureSuccess();
        }

        using var timeout = new CancellationTokenSource(Deadline);
        var delivery = await deliveries.Reader.ReadAsync(timeout.Token);
        Assert.Equal("good", Encoding.UTF8.GetString(delivery.Body.Span));
        await consumer.AckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None);

        await JetStreamTestKit.EventuallyAsync(() => Task.FromResult(Snapshot(drops) is ["unreadable:1"]), () => "the unreadable message counted once, got: " + string.Join(", ", Snapshot(drops)), Deadline);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(_server, "federation-orders") is [{ NumAckPending: 0, NumPending: 0 }],
            () => "both messages settled on the server",
            Deadline);
        Assert.False(deliveries.Reader.TryRead(out var extra), "the unreadable message was delivered: " + (extra is null ? "" : Encoding.UTF8.GetString(extra.Body.Span)));
        Assert.False(consumer.Completion.IsCompleted);
    }

    private static string[] Snapshot(List<string> drops)
    {
        lock (drops)
        {
            return [.. drops];
        }
    }
}
