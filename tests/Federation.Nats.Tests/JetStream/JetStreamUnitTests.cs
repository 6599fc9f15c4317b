using Federation.Core.InMemory;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Transport;
using NATS.Client.JetStream.Models;

namespace Federation.Nats.Tests.JetStream;

/// <summary>The JetStream URI keys, the names of streams and consumers, and client-side binding filtering (no server needed).</summary>
public sealed class JetStreamUnitTests
{
    private readonly NatsTransport _transport = new();

    [Fact]
    public void Jetstream_keys_are_read_with_their_defaults()
    {
        Assert.Null(NatsUriSettings.Parse("nats://h:4222").JetStream);
        Assert.Null(NatsUriSettings.Parse("nats://h:4222?jetstream=false").JetStream);
        Assert.Equal(
            new JetStreamUriSettings(null, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)),
            NatsUriSettings.Parse("nats://h:4222?jetstream=true").JetStream);
        Assert.Equal(
            new JetStreamUriSettings("ORDERS", TimeSpan.FromMilliseconds(5000), TimeSpan.FromMilliseconds(60000)),
            NatsUriSettings.Parse("nats://h:4222?jetstream=true&stream=ORDERS&ack-wait-ms=5000&duplicate-window-ms=60000").JetStream);
    }

    [Fact]
    public void The_kind_of_upstream_queue_changes_with_jetstream_mode_and_the_stream_only()
    {
        var core = _transport.UpstreamQueueKind("nats://h:4222?cluster-name=A", "orders");
        var durable = _transport.UpstreamQueueKind("nats://h:4222?cluster-name=A&jetstream=true", "orders");
        Assert.NotNull(core);
        Assert.NotNull(durable);
        Assert.NotEqual(core, durable);
        Assert.Equal(core, _transport.UpstreamQueueKind("nats://u:secret@h:4222?jetstream=false&connect-timeout-ms=100", "orders"));

        // The consumer takes a longer ack wait over (see JetStreamConsumerMinimums); the stream's duplicate window is the downstream's business.
        Assert.Equal(durable, _transport.UpstreamQueueKind("nats://h:4222?jetstream=true&ack-wait-ms=5000&duplicate-window-ms=1000", "orders"));
        var named = _transport.UpstreamQueueKind("nats://h:4222?jetstream=true&stream=ORDERS", "orders");
        Assert.NotEqual(durable, named);
        Assert.Contains("ORDERS", named, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", _transport.UpstreamQueueKind("nats://u:secret@h:4222?jetstream=true", "orders"), StringComparison.Ordinal);

        // Naming the exchange's own stream is reading the same stream, not another kind: its consumer and what it holds stay.
        Assert.Equal(durable, _transport.UpstreamQueueKind("nats://h:4222?jetstream=true&stream=federation-orders", "orders"));
        Assert.NotEqual(durable, _transport.UpstreamQueueKind("nats://h:4222?jetstream=true", "billing"));
    }

    [Fact]
    public void The_coarse_kind_in_the_heartbeats_tells_jetstream_from_core_whatever_the_stream()
    {
        // Whichever stream a JetStream URI reads, some upstream exchange gives it the kind of a URI without stream=: the
        // heartbeats, which know no exchange, must not tell them apart, or an instance would delete a consumer another uses.
        var durable = _transport.CoarseUpstreamQueueKind("nats://h:4222?jetstream=true");
        Assert.NotNull(durable);
        Assert.Equal(durable, _transport.CoarseUpstreamQueueKind("nats://u:secret@h:4222?jetstream=true&stream=ORDERS&ack-wait-ms=5000"));
        var core = _transport.CoarseUpstreamQueueKind("nats://h:4222?jetstream=false");
        Assert.NotNull(core);
        Assert.NotEqual(durable, core);
        Assert.Equal(core, _transport.CoarseUpstreamQueueKind("nats://h:4222?cluster-name=A"));
        Assert.Null(_transport.CoarseUpstreamQueueKind("nats://h:4222?jetstream=yes"));
    }

    [Theory]
    [InlineData("nats://h:4222?jetstream=yes", "has 'jetstream=yes': it must be true or false")]
    [InlineData("nats://h:4222?jetstream=true&stream=a.b", "has 'stream=a.b': a stream name is not empty and has no whitespace")]
    [InlineData("nats://h:4222?jetstream=true&stream=", "has 'stream=': a stream name is not empty")]
    [InlineData("nats://h:4222?jetstream=true&ack-wait-ms=0", "has 'ack-wait-ms=0': it must be a positive number of milliseconds")]
    [InlineData("nats://h:4222?jetstream=true&duplicate-window-ms=x", "has 'duplicate-window-ms=x': it must be a positive number of milliseconds")]
    [InlineData("nats://h:4222?stream=ORDERS", "has 'stream', which only applies with 'jetstream=true'")]
    [InlineData("nats://h:4222?jetstream=false&ack-wait-ms=1000", "has 'ack-wait-ms', which only applies with 'jetstream=true'")]
    public void Bad_jetstream_keys_are_refused_naming_the_key(string uri, string expected) =>
        Assert.StartsWith(expected, Assert.Single(_transport.ValidateUri(uri)), StringComparison.Ordinal);

    [Fact]
    public async Task Jetstream_mode_opens_no_client_of_its_own_from_the_uri()
    {
        // It runs on the core connection's client. One it opened itself would have the URI's user:password in its URL and
        // none of the core connection's authentication or TLS options.
        const string Uri = "nats://user:secret@127.0.0.1:1?jetstream=true";
        var brokers = new InMemoryBrokerRegistry();
        brokers.GetOrAdd("js");
        var core = await new InMemoryTransport(brokers).ConnectAsync(new ConnectionRequest("memory://js", "test"), CancellationToken.None);
        await using var _ = core;
        await Assert.ThrowsAsync<ArgumentNullException>(async () =>
            await JetStreamBrokerConnection.CreateAsync(core, NatsUriSettings.Parse(Uri), new ConnectionRequest(Uri, "test"), client: null!, CancellationToken.None));
    }

    [Fact]
    public void Names_are_subject_safe_and_distinct()
    {
        Assert.Equal("federation-orders", JetStreamNames.StreamFor("orders"));
        var consumer = JetStreamNames.ConsumerFor("federation: orders -> B");
        Assert.Matches("^[A-Za-z0-9_-]+$", consumer);
        Assert.StartsWith("federation__orders_-__B_", consumer, StringComparison.Ordinal);
        Assert.NotEqual(JetStreamNames.ConsumerFor("federation: a.b -> B"), JetStreamNames.ConsumerFor("federation: a_b -> B"));
        Assert.Equal("plain_name-1", JetStreamNames.ConsumerFor("plain_name-1"));
        Assert.True(JetStreamNames.ConsumerFor(new string('x', 300)).Length <= 64 + 9);
        Assert.Equal(["orders", "orders.>"], JetStreamNames.SubjectsOf("orders"));
    }

    [Fact]
    public void Graph_routes_through_the_internal_exchange_with_amqp_rules_and_follows_unbinds()
    {
        var graph = new JetStreamBindingGraph();
        graph.DeclareExchange(new ExchangeSpec("orders", ExchangeSpec.Types.Topic));
        graph.DeclareExchange(new ExchangeSpec("q A", ExchangeSpec.Types.Fanout, Internal: true));
        graph.DeclareQueue("q");
        Assert.Empty(graph.SourcesOf("q"));

        graph.Bind(new BindingSpec("q A", "q", BindingDestinationKind.Queue, ""));
        var euStar = new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "eu.*");
        Assert.True(graph.Bind(euStar));
        Assert.False(graph.Bind(euStar));
        graph.Bind(new BindingSpec("orders", "q A", BindingDestinationKind.Exchange, "us.#"));

        Assert.Equal(["orders"], graph.SourcesOf("q"));
        Assert.True(graph.Routes("orders", "eu.created", "q"));
        Assert.False(graph.Routes("orders", "eu.created.late", "q"));
        Assert.True(graph.Routes("orders", "us", "q"));
        Assert.True(graph.Routes("orders", "us.a.b", "q"));
        Assert.False(graph.Routes("orders", "asia.x", "q"));
        Assert.False(graph.Routes("orders", "eu.created", "other"));

        Assert.True(graph.Unbind(euStar));
        Assert.False(graph.Routes("orders", "eu.created", "q"));

        graph.DeleteExchange("q A");
        Assert.False(graph.Routes("orders", "us.a", "q"));
        Assert.Empty(graph.SourcesOf("q"));
    }

    [Theory]
    [InlineData("$JS.ACK.S.C.1.7.7.1733400000123456789.0", "1733400000123456789")]
    [InlineData("$JS.ACK.dom.hash.S.C.1.7.7.1733400000123456789.0", "1733400000123456789")]
    [InlineData("$JS.ACK.dom.hash.S.C.1.7.7.1733400000123456789.0.rnd", "1733400000123456789")]
    [InlineData("$JS.ACK.S.C.1.7.7.x.0", null)]
    [InlineData("$JS.ACK.S.C.1.7", null)]
    [InlineData("_INBOX.a.b", null)]
    [InlineData(null, null)]
    public void The_stored_time_of_a_message_is_read_from_its_ack_reply_subject(string? replyTo, string? expected) =>
        Assert.Equal(expected, JetStreamMessageIdentity.StoredAtNanoseconds(replyTo));

    [Fact]
    public void Without_a_cluster_name_the_upstream_of_an_identity_is_the_time_its_stream_was_created()
    {
        // Nothing of the server's (its name is its server_id unless set, new on every restart): the stream's creation time,
        // which the store keeps, every node reports alike, and a stream deleted and created again changes.
        var created = DateTimeOffset.FromUnixTimeMilliseconds(1_733_400_000_123).AddTicks(4567);
        Assert.Equal("1733400000123456700", JetStreamMessageIdentity.UpstreamOf(created));
        Assert.Equal(JetStreamMessageIdentity.UpstreamOf(created), JetStreamMessageIdentity.UpstreamOf(created.ToOffset(TimeSpan.FromHours(2))));
        Assert.NotEqual(JetStreamMessageIdentity.UpstreamOf(created), JetStreamMessageIdentity.UpstreamOf(created.AddTicks(1)));
    }

    [Theory]
    [InlineData("1733400000123456700:federation-orders:40:1733400000123456789", true)]
    [InlineData("UP:federation-orders:40:1733400000123456789", true)]
    [InlineData("site:a:UP:S:7:1", true)] // a cluster-name may hold ':'
    [InlineData("order-7", false)]
    [InlineData("U:s:1", false)] // the former <cluster>:<stream>:<sequence> form, or a producer's
    [InlineData("UP::7:1", false)]
    [InlineData(":S:7:1", false)]
    [InlineData("UP:S:7:", false)]
    [InlineData("UP:S:x:1", false)]
    [InlineData("UP:S:7:123456789012345678901", false)]
    public void Ids_a_link_made_are_told_from_a_producers(string id, bool linkBuilt) =>
        Assert.Equal(linkBuilt, JetStreamMessageIdentity.IsLinkBuilt(id));

    [Fact]
    public void A_message_identity_names_upstream_stream_sequence_and_stored_time_in_one_string()
    {
        var stored = DateTimeOffset.FromUnixTimeMilliseconds(1_733_400_000_123);
        var metadata = new NATS.Client.JetStream.NatsJSMsgMetadata(new NATS.Client.JetStream.NatsJSSequencePair(7, 3), 1, 0, stored, "S", "C", string.Empty);
        const string replyTo = "$JS.ACK.S.C.1.7.3.1733400000123456789.0";
        Assert.Equal("up:S:7:1733400000123456789", JetStreamMessageIdentity.Of("up", metadata, replyTo));

        // Without an ack reply subject, the client's millisecond timestamp stands in.
        Assert.Equal("up:S:7:1733400000123000000", JetStreamMessageIdentity.Of("up", metadata, null));

        // It runs for every forwarded message: the identity is its only allocation. The least of a few measurements, since a
        // one-off allocation of the runtime's on this thread (tiering, a lazy static) can land inside any single one.
        _ = JetStreamMessageIdentity.Of("up", metadata, replyTo);
        var identity = "";
        var allocated = long.MaxValue;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            identity = JetStreamMessageIdentity.Of("up", metadata, replyTo);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        // The string alone (header, characters, terminator, rounded up to 8 B): 80 B here. The three strings of the earlier
        // code took 144 B; numbers handed to the interpolation as numbers took 24 B more (a box) in every try while the
        // runtime ran its profiling tier of the generic formatting, as in a fresh-clone run of the whole suite.
        Assert.True(allocated <= 24 + (2 * identity.Length) + 8, $"allocated {allocated} B for a {identity.Length}-character identity");
    }

    [Fact]
    public void A_write_to_a_durable_consumer_raises_what_this_instance_needs_and_keeps_every_larger_value_it_read()
    {
        var queue = new JetStreamQueue("q", new JetStreamBindingGraph()) { Prefetch = 2000 };
        var tenSeconds = TimeSpan.FromSeconds(10);
        ConsumerConfig Read(TimeSpan ackWait, long maxAckPending) =>
            new("c") { AckWait = ackWait, MaxAckPending = maxAckPending, Description = "as read" };

        // Enough of both: nothing to write, whatever this instance's own settings are (a longer ack wait is kept).
        Assert.Null(JetStreamConsumerMinimums.Raised(Read(TimeSpan.FromSeconds(30), 3000), tenSeconds, queue));
        Assert.Null(JetStreamConsumerMinimums.Raised(Read(tenSeconds, -1), tenSeconds, queue));

        // One write raises both, and keeps the rest as read.
        var both = JetStreamConsumerMinimums.Raised(Read(TimeSpan.FromSeconds(5), 0), tenSeconds, queue);
        Assert.Equal(Read(tenSeconds, 2000), both);

        // Raising one never lowers the other.
        Assert.Equal(Read(tenSeconds, 3000), JetStreamConsumerMinimums.Raised(Read(TimeSpan.FromSeconds(5), 3000), tenSeconds, queue));
        Assert.Equal(Read(TimeSpan.FromSeconds(30), 2000), JetStreamConsumerMinimums.Raised(Read(TimeSpan.FromSeconds(30), 1500), tenSeconds, queue));

        // A max_ack_pending the server refused is not asked again; the ack wait still is.
        queue.MaxAckPendingRefused = 2000;
        Assert.Null(JetStreamConsumerMinimums.Raised(Read(tenSeconds, 0), tenSeconds, queue));
        Assert.Equal(Read(tenSeconds, 0), JetStreamConsumerMinimums.Raised(Read(TimeSpan.FromSeconds(5), 0), tenSeconds, queue));
    }
}
