using System.Text;
using System.Threading.Channels;
using Federation.Core.Hops;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// The SPI in JetStream mode against a real nats-server with <c>-js</c>: the upstream queue is a durable consumer whose
/// bindings filter on the client, deliveries carry a stable <c>Nats-Msg-Id</c> and come back when not
/// acked, deleting the queue deletes the consumer, and confirmed publishes are deduplicated by the downstream stream.
/// </summary>
public sealed class JetStreamTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly NatsTransport _transport = new();
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await NatsServerProcess.StartJetStreamAsync("js-spi");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_named_stream_that_captures_none_of_the_exchange_is_refused_naming_it_and_left_as_it_is()
    {
        await using (var nats = new NatsConnection(new NatsOpts { Url = _server.Url }))
        {
            var js = new NatsJSContext(nats);
            await js.CreateStreamAsync(new NATS.Client.JetStream.Models.StreamConfig("MINE", ["mine.>"]));
            await js.CreateStreamAsync(new NATS.Client.JetStream.Models.StreamConfig("EU", ["orders.eu.>"]));
            (await js.PublishAsync("mine.x", "kept"u8.ToArray())).EnsureSuccess();
        }

        // Running on it, the link would federate nothing while its status said running.
        var wrong = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=U&jetstream=true&stream=MINE", "Federation link test"), CancellationToken.None);
        await using (wrong)
        {
            await wrong.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
            await wrong.DeclareExchangeAsync(new ExchangeSpec("orders", ExchangeSpec.Types.Topic), CancellationToken.None);
            await wrong.DeclareExchangeAsync(new ExchangeSpec("q A", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
            await wrong.BindAsync(new BindingSpec("q A", "q", BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
            var refused = await Assert.ThrowsAsync<PreconditionFailedException>(async () =>
                await wrong.BindAsync(new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "#"), noWait: false, CancellationToken.None));
            Assert.Contains("'stream=MINE'", refused.Message, StringComparison.Ordinal);
            Assert.Contains("captures 'mine.>'", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(1, await JetStreamTestKit.CountAsync(_server, "MINE"));
        Assert.Empty(await JetStreamTestKit.ConsumersAsync(_server, "MINE"));

        // A stream that captures part of the exchange is the operator's choice, and is used.
        var part = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=U&jetstream=true&stream=EU", "Federation link test"), CancellationToken.None);
        await using (part)
        {
            await part.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
            await part.DeclareExchangeAsync(new ExchangeSpec("orders", ExchangeSpec.Types.Topic), CancellationToken.None);
            await part.DeclareExchangeAsync(new ExchangeSpec("q A", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
            await part.BindAsync(new BindingSpec("q A", "q", BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
            await part.BindAsync(new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "#"), noWait: false, CancellationToken.None);
            Assert.Equal("q", Assert.Single(await JetStreamTestKit.ConsumersAsync(_server, "EU")).Name);
        }
    }

    [Fact]
    public async Task Upstream_queue_is_a_durable_consumer_filtered_by_its_bindings_and_identified_by_stream_sequence()
    {
        var upstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=U&jetstream=true&ack-wait-ms=1000", "Federation link test"), CancellationToken.None);
        await using var _ = upstream;
        await upstream.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await upstream.DeclareExchangeAsync(new ExchangeSpec("orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        await upstream.DeclareExchangeAsync(new ExchangeSpec("q A", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
        await upstream.BindAsync(new BindingSpec("q A", "q", BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
        await upstream.BindAsync(new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "eu.*"), noWait: false, CancellationToken.None);
        Assert.Equal("q", Assert.Single(await JetStreamTestKit.ConsumersAsync(_server, "federation-orders")).Name);

        var deliveries = Channel.CreateUnbounded<Delivery>();
        var consumer = await upstream.ConsumeAsync("q", new ConsumerOptions(10), (d, token) => deliveries.Writer.WriteAsync(d, token), CancellationToken.None);

        await using (var nats = new NatsConnection(new NatsOpts { Url = _server.Url }))
        {
            var js = new NatsJSContext(nats);
            (await js.PublishAsync("orders.us.x", "us"u8.ToArray())).EnsureSuccess();
            (await js.PublishAsync("orders.eu.x", "eu"u8.ToArray(), headers: new NatsHeaders { ["h"] = "v" })).EnsureSuccess();
        }

        var first = await ReadAsync(deliveries);
        Assert.Equal("eu", Encoding.UTF8.GetString(first.Body.Span));
        Assert.Equal(("orders", "eu.x", false), (first.Exchange, first.RoutingKey, first.Redelivered));
        // Upstream, stream, sequence and the time the stream stored it (nanoseconds): a re-created stream reuses sequences.
        Assert.Matches("^U:federation-orders:2:[0-9]{19}$", (string)first.Properties.Headers!["Nats-Msg-Id"]!);
        Assert.Equal("v", first.Properties.Headers["h"]);

        // Not acknowledged: the next consumer gets it again, with the same identity. (Redelivered is JetStream's delivery
        // count > 1; nats-server 2.9.10 sometimes reports 1 for the redelivery that follows a NAK, so it is not asserted.)
        await consumer.DisposeAsync();
        consumer = await upstream.ConsumeAsync("q", new ConsumerOptions(10), (d, token) => deliveries.Writer.WriteAsync(d, token), CancellationToken.None);
        var again = await ReadAsync(deliveries);
        Assert.Equal("eu", Encoding.UTF8.GetString(again.Body.Span));
        Assert.Equal(first.Properties.Headers["Nats-Msg-Id"], again.Properties.Headers!["Nats-Msg-Id"]);
        await consumer.AckAsync(again.DeliveryTag, multiple: true, CancellationToken.None);
        await JetStreamTestKit.EventuallyAsync(
            async () => await JetStreamTestKit.ConsumersAsync(_server, "federation-orders") is [{ NumAckPending: 0, NumPending: 0 }],
            () => "the ack to reach the server",
            Deadline);
        await consumer.DisposeAsync();

        await upstream.DeleteQueueAsync("q", CancellationToken.None);
        Assert.Empty(await JetStreamTestKit.ConsumersAsync(_server, "federation-orders"));
    }

    [Fact]
    public async Task A_message_keeps_its_identity_when_an_unnamed_upstream_server_restarts_under_another_name()
    {
        // No -n and no cluster-name: the server is named after its server_id, new on every start. The identity must not
        // change with it, or the downstream stores every message that the restart made come back a second time.
        await using var server = await NatsServerProcess.StartJetStreamAsync(name: null);
        var uri = $"{server.Url}?jetstream=true&ack-wait-ms=1000";
        var (firstId, firstName) = await DeliverUnacknowledgedAsync(server, uri, publish: true);

        await server.KillAsync();
        await server.StartAsync();
        var (againId, againName) = await DeliverUnacknowledgedAsync(server, uri, publish: false);

        Assert.NotEqual(firstName, againName);
        Assert.Equal(firstId, againId);

        // Nothing of the server's name; the stream's creation time (Unix ns) stands for the upstream instead.
        await using var nats = new NatsConnection(new NatsOpts { Url = server.Url });
        var created = (await new NatsJSContext(nats).GetStreamAsync("federation-orders")).Info.Created;
        Assert.Equal($"{(created.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100}:federation-orders:1:", firstId[..(firstId.LastIndexOf(':') + 1)]);
    }

    /// <summary>Connects, attaches queue <c>q</c> to <c>orders</c>, publishes one message if asked, and returns the <c>Nats-Msg-Id</c> of the first delivery (not acknowledged) and the server's name.</summary>
    private async Task<(string Id, string? ServerName)> DeliverUnacknowledgedAsync(NatsServerProcess server, string uri, bool publish)
    {
        var upstream = await _transport.ConnectAsync(new ConnectionRequest(uri, "Federation link test"), CancellationToken.None);
        await using var _ = upstream;
        await upstream.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await upstream.DeclareExchangeAsync(new ExchangeSpec("orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        await upstream.DeclareExchangeAsync(new ExchangeSpec("q A", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
        await upstream.BindAsync(new BindingSpec("q A", "q", BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
        await upstream.BindAsync(new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "#"), noWait: false, CancellationToken.None);
        var deliveries = Channel.CreateUnbounded<Delivery>();
        var consumer = await upstream.ConsumeAsync("q", new ConsumerOptions(10), (d, token) => deliveries.Writer.WriteAsync(d, token), CancellationToken.None);
        await using var __ = consumer;
        await using var nats = new NatsConnection(new NatsOpts { Url = server.Url });
        await nats.ConnectAsync();
        if (publish)
        {
            (await new NatsJSContext(nats).PublishAsync("orders.eu", "one"u8.ToArray())).EnsureSuccess();
        }

        var delivery = await ReadAsync(deliveries);
        return ((string)delivery.Properties.Headers![JetStreamHeaders.MessageId]!, nats.ServerInfo?.Name);
    }

    [Fact]
    public async Task Confirmed_publishes_create_the_stream_and_are_deduplicated_by_message_id()
    {
        var downstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=D&jetstream=true", "Federation supervisor"), CancellationToken.None);
        await using var _ = downstream;
        var publisher = await downstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        var properties = new MessageProperties { Headers = new() { ["Nats-Msg-Id"] = "U:s:1" } };
        var first = publisher.PublishAsync("sink", "a", properties, "one"u8.ToArray(), CancellationToken.None);
        var duplicate = publisher.PublishAsync("sink", "a", properties, "one again"u8.ToArray(), CancellationToken.None);
        var other = publisher.PublishAsync("sink", "b", new MessageProperties(), "two"u8.ToArray(), CancellationToken.None);
        await first;
        await duplicate;
        await other;

        Assert.Equal(["one", "two"], await JetStreamTestKit.ReadAllTextAsync(_server, "federation-sink"));
    }

    [Fact]
    public async Task A_producers_amqp_message_id_is_the_nats_msg_id_so_its_redelivery_is_not_stored_twice()
    {
        // An AMQP upstream's message carries its producer's message-id as a property, not as Nats-Msg-Id. A redelivery of
        // it after a crash or a PubAck that came too late (the downstream paused) was stored a second time; a black-box
        // soak (AMQP upstream into a JetStream downstream, 27 faults) stored 2,955 of 436,161 messages twice.
        var downstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=D&jetstream=true", "Federation supervisor"), CancellationToken.None);
        await using var _ = downstream;
        var drops = new List<string>();
        var options = new PublisherOptions(Confirms: true) { Dropped = (reason, count, cause) => { lock (drops) { drops.Add(reason); } } };
        await using var publisher = await downstream.OpenPublisherAsync(options, CancellationToken.None);

        await publisher.PublishAsync("amqp-ids", "a", new MessageProperties { MessageId = "order-9" }, "one"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("amqp-ids", "a", new MessageProperties { MessageId = "order-9" }, "one"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("amqp-ids", "b", new MessageProperties(), "two"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("amqp-ids", "b", new MessageProperties(), "two"u8.ToArray(), CancellationToken.None);

        // Without a message-id nothing names the message: equal ones are all stored, as the AMQP ledger forwards them.
        Assert.Equal(["one", "two", "two"], await JetStreamTestKit.ReadAllTextAsync(_server, "federation-amqp-ids"));
        lock (drops)
        {
            Assert.Equal(["downstream_duplicate"], drops); // a producer's id, so the drop is reported as for any producer id
        }
    }

    [Fact]
    public async Task A_redelivery_of_a_producers_id_is_dropped_by_the_stream_without_being_reported_as_a_possible_loss()
    {
        // After a fault the upstream redelivers what the link had not acknowledged, flagged redelivered (the newest trail
        // hop says so): the stream already holds it, and a warning that messages were lost after every fault would be false.
        var downstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=D&jetstream=true", "Federation supervisor"), CancellationToken.None);
        await using var _ = downstream;
        var drops = new List<string>();
        var options = new PublisherOptions(Confirms: true) { Dropped = (reason, count, cause) => { lock (drops) { drops.Add(reason); } } };
        await using var publisher = await downstream.OpenPublisherAsync(options, CancellationToken.None);
        MessageProperties Delivered(bool redelivered) => new()
        {
            MessageId = "order-11",
            Headers = HopRules.PrependReceivedFrom(null, new ReceivedFromEntry("amqp://up", "orders", redelivered, "U", "/")),
        };

        await publisher.PublishAsync("redelivered", "a", Delivered(redelivered: false), "one"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("redelivered", "a", Delivered(redelivered: true), "one"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("redelivered", "a", Delivered(redelivered: false), "one"u8.ToArray(), CancellationToken.None);

        Assert.Equal(["one"], await JetStreamTestKit.ReadAllTextAsync(_server, "federation-redelivered"));
        lock (drops)
        {
            Assert.Equal(["downstream_duplicate"], drops); // only the third: not flagged, so it may be another message reusing the id
        }
    }

    [Fact]
    public async Task A_message_dropped_as_a_duplicate_of_a_producer_id_is_reported_and_a_redelivery_of_a_link_id_is_not()
    {
        var downstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=D&jetstream=true", "Federation supervisor"), CancellationToken.None);
        await using var _ = downstream;
        var drops = new List<(string Reason, long Count, string? Cause)>();
        var options = new PublisherOptions(Confirms: true) { Dropped = (reason, count, cause) => { lock (drops) { drops.Add((reason, count, cause)); } } };
        await using var publisher = await downstream.OpenPublisherAsync(options, CancellationToken.None);

        // Producers at two sites that both number their messages: the second "order-7" is a different message, and the
        // stream drops it as a duplicate. The publish is confirmed all the same (sent again, it would be dropped again),
        // so only the report tells that it is not in the stream.
        await publisher.PublishAsync("collide", "eu", new MessageProperties { Headers = new() { ["Nats-Msg-Id"] = "order-7" } }, "from eu"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("collide", "us", new MessageProperties { Headers = new() { ["Nats-Msg-Id"] = "order-7" } }, "from us"u8.ToArray(), CancellationToken.None);

        // An id a link made names one stored message: its duplicate is a redelivery, the duplicate window at work.
        var linkId = new MessageProperties { Headers = new() { ["Nats-Msg-Id"] = "1733400000123456700:federation-orders:40:1733400000123456789" } };
        await publisher.PublishAsync("collide", "eu", linkId, "forwarded"u8.ToArray(), CancellationToken.None);
        await publisher.PublishAsync("collide", "eu", linkId, "forwarded"u8.ToArray(), CancellationToken.None);

        Assert.Equal(["from eu", "forwarded"], await JetStreamTestKit.ReadAllTextAsync(_server, "federation-collide"));
        lock (drops)
        {
            var (reason, count, cause) = Assert.Single(drops);
            Assert.Equal(("downstream_duplicate", 1L), (reason, count));
            Assert.Contains("already held a message with the Nats-Msg-Id 'order-7' (stream sequence 1)", cause, StringComparison.Ordinal);
            Assert.Contains("'collide.us'", cause, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Pipelined_confirmed_publishes_keep_their_order_and_each_its_own_headers()
    {
        // The first publishes wait for the stream to be created (the chained path), the rest are written at once (the
        // fast path, which reuses one header object): every message must carry its own headers, in publish order.
        const int Count = 2000;
        var downstream = await _transport.ConnectAsync(new ConnectionRequest($"{_server.Url}?cluster-name=D&jetstream=true", "Federation supervisor"), CancellationToken.None);
        await using var _ = downstream;
        await using var publisher = await downstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        var pending = new List<Task>(Count);
        for (var i = 0; i < Count; i++)
        {
            var n = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var properties = new MessageProperties { Headers = new() { ["x-n"] = n, ["Nats-Msg-Id"] = "m" + n } };
            pending.Add(publisher.PublishAsync("pipelined", "k", properties, Encoding.UTF8.GetBytes(n), CancellationToken.None).AsTask());
        }

        await Task.WhenAll(pending).WaitAsync(Deadline);

        await using var nats = new NatsConnection(new NatsOpts { Url = _server.Url });
        var consumer = await new NatsJSContext(nats).CreateOrUpdateConsumerAsync("federation-pipelined", new NATS.Client.JetStream.Models.ConsumerConfig { AckPolicy = NATS.Client.JetStream.Models.ConsumerConfigAckPolicy.None });
        using var timeout = new CancellationTokenSource(Deadline);
        var expected = 0;
        await foreach (var message in consumer.ConsumeAsync(NatsRawSerializer<byte[]>.Default, cancellationToken: timeout.Token))
        {
            var body = Encoding.UTF8.GetString(message.Data ?? []);
            Assert.Equal(expected.ToString(System.Globalization.CultureInfo.InvariantCulture), body);
            Assert.Equal(body, message.Headers?["x-n"].ToString());
            Assert.Equal("m" + body, message.Headers?["Nats-Msg-Id"].ToString());
            if (++expected == Count)
            {
                break;
            }
        }
    }

    private static async Task<Delivery> ReadAsync(Channel<Delivery> deliveries)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        return await deliveries.Reader.ReadAsync(timeout.Token);
    }
}
