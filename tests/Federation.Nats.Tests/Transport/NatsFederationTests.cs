using System.Text;
using Federation.Core;
using Federation.Core.Hops;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>Two real nats-servers, A (upstream) and B (downstream), federated by a FederationEngine over the NATS transport.</summary>
public sealed class NatsFederationTests() : NatsFederationTestbed("orders", "server-a", "server-b")
{
    private NatsServerProcess A => Servers[0];

    private NatsServerProcess B => Servers[1];

    private Task<FederationEngine> StartEngineAsync(NatsServerProcess downstream, string downstreamName, NatsServerProcess upstream, string upstreamName, int maxHops = 1)
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(downstream, downstreamName) } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(upstream, upstreamName) }, MaxHops = maxHops };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        return StartEngineAsync(options);
    }

    [Fact]
    public async Task Downstream_subscription_interest_pulls_matching_messages_only_with_a_one_hop_trail()
    {
        await StartEngineAsync(B, "B", A, "A");
        var subscriber = await SubscribeAsync(B, "orders.eu.*");
        await WaitForSubjectsAsync(A, "orders.eu.*");
        Assert.DoesNotContain(await SubjectsAsync(A), s => s.StartsWith("orders.us", StringComparison.Ordinal) || s == "orders.>");

        var publisher = await ConnectAsync(A);
        var before = await InMsgsAsync(B);
        await publisher.PublishAsync("orders.us.created", "us"u8.ToArray());
        await publisher.PublishAsync("orders.eu.created", "eu"u8.ToArray(), new NatsHeaders { ["tenant"] = "acme" });
        await publisher.PingAsync();

        var message = await ReadAsync(subscriber);
        Assert.Equal("orders.eu.created", message.Subject);
        Assert.Equal("eu", Body(message));
        Assert.Equal("acme", message.Headers!["tenant"].ToString());
        var trail = HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(message.Headers).Headers);
        var hop = Assert.Single(trail);
        Assert.Equal("A", hop.ClusterName);
        Assert.Equal("orders", hop.Exchange);
        Assert.Equal("/", hop.VirtualHost);
        Assert.StartsWith(A.Url, hop.Uri, StringComparison.Ordinal);

        // Only the eu message was published into B: us was never subscribed upstream.
        Assert.Equal(before + 1, await InMsgsAsync(B));
        Assert.False(subscriber.Msgs.TryRead(out _));

        // Interest removed downstream -> the upstream SUB goes away.
        await subscriber.DisposeAsync();
        List<string> have = [];
        await EventuallyAsync(async () => !(have = await SubjectsAsync(A)).Contains("orders.eu.*"), () => $"upstream SUB removed; have {string.Join(",", have)}");
    }

    /// <summary>
    /// An <c>amqp-timestamp</c> past the year 9999 as seconds (milliseconds where seconds belong, say) made the mapping
    /// throw in the consumer: the link failed and restarted at every such message, and core NATS lost what was published
    /// meanwhile. The exact value crosses now, and the link never restarts.
    /// </summary>
    [Fact]
    public async Task A_far_future_timestamp_crosses_unchanged_without_a_restart()
    {
        var engine = await StartEngineAsync(B, "B", A, "A");
        var subscriber = await SubscribeAsync(B, "orders.eu.*");
        await WaitForSubjectsAsync(A, "orders.eu.*");
        var since = engine.GetLinks().Single().Since;

        var publisher = await ConnectAsync(A);
        await publisher.PublishAsync("orders.eu.far", "far"u8.ToArray(), new NatsHeaders { ["amqp-timestamp"] = "99999999999999" });
        await publisher.PublishAsync("orders.eu.after", "after"u8.ToArray());
        await publisher.PingAsync();

        var far = await ReadAsync(subscriber);
        Assert.Equal("far", Body(far));
        Assert.Equal("99999999999999", far.Headers!["amqp-timestamp"].ToString());
        Assert.Equal(99_999_999_999_999, NatsMessageMapping.ToProperties(far.Headers).UnixTimestamp);
        Assert.Equal("after", Body(await ReadAsync(subscriber)));
        var link = engine.GetLinks().Single();
        Assert.Equal(since, link.Since);
        Assert.Null(link.DroppedMessages);
    }

    [Fact]
    public async Task Overlapping_interest_delivers_one_copy()
    {
        await StartEngineAsync(B, "B", A, "A");
        var wide = await SubscribeAsync(B, "orders.eu.*");
        var narrow = await SubscribeAsync(B, "orders.eu.created");
        await WaitForSubjectsAsync(A, "orders.eu.*", "orders.eu.created");

        var publisher = await ConnectAsync(A);
        var before = await InMsgsAsync(B);
        await publisher.PublishAsync("orders.eu.created", "one"u8.ToArray());
        await publisher.PublishAsync("orders.eu.sentinel", "sentinel"u8.ToArray());
        await publisher.PingAsync();

        Assert.Equal("orders.eu.created", (await ReadAsync(wide)).Subject);
        Assert.Equal("orders.eu.created", (await ReadAsync(narrow)).Subject);
        Assert.Equal("orders.eu.sentinel", (await ReadAsync(wide)).Subject);

        // One copy per subscriber and exactly two messages forwarded into B.
        Assert.False(wide.Msgs.TryRead(out _));
        Assert.False(narrow.Msgs.TryRead(out _));
        Assert.Equal(before + 2, await InMsgsAsync(B));
    }

    [Fact]
    public async Task Bindings_made_through_the_adapter_are_interest_too()
    {
        var transport = new NatsTransport();
        var app = await transport.ConnectAsync(new Core.Transport.ConnectionRequest(Uri(B, "B"), "app"), CancellationToken.None);
        Track(app);
        await app.DeclareQueueAsync(new Core.Transport.QueueSpec("q", Durable: false), CancellationToken.None);
        await app.BindAsync(new Core.Transport.BindingSpec("orders", "q", Core.Transport.BindingDestinationKind.Queue, "eu.#"), false, CancellationToken.None);
        var received = System.Threading.Channels.Channel.CreateUnbounded<Core.Transport.Delivery>();
        var consumer = await app.ConsumeAsync("q", new Core.Transport.ConsumerOptions(10), (d, _) => { received.Writer.TryWrite(d); return ValueTask.CompletedTask; }, CancellationToken.None);
        Track(consumer);

        await StartEngineAsync(B, "B", A, "A");
        await WaitForSubjectsAsync(A, "orders.eu.>", "orders.eu");

        var publisher = await ConnectAsync(A);
        await publisher.PublishAsync("orders.eu.fr.created", "fr"u8.ToArray());
        await publisher.PingAsync();

        using var timeout = new CancellationTokenSource(Deadline);
        var delivery = await received.Reader.ReadAsync(timeout.Token);
        Assert.Equal("orders", delivery.Exchange);
        Assert.Equal("eu.fr.created", delivery.RoutingKey);
        Assert.Single(HopRules.ReadReceivedFrom(delivery.Properties.Headers));
    }

    [Fact]
    public async Task A_message_whose_trail_header_is_malformed_is_forwarded_under_max_hops_1_with_a_trail_of_one_hop()
    {
        await StartEngineAsync(B, "B", A, "A");
        var subscriber = await SubscribeAsync(B, "orders.x");
        await WaitForSubjectsAsync(A, "orders.x");

        // Not hops (garbage, empty, a field without the rest): before, each decoded as one and used up the budget.
        var publisher = await ConnectAsync(A);
        foreach (var value in new[] { "garbage;;;==%%zz", "", "cluster-name=nats-b" })
        {
            await publisher.PublishAsync("orders.x", Encoding.UTF8.GetBytes($"trail '{value}'"), new NatsHeaders { ["x-received-from"] = value });
        }

        // A well-formed hop from elsewhere still counts: dropped as over max-hops, so it never arrives before the sentinel.
        await publisher.PublishAsync("orders.x", "one hop"u8.ToArray(), new NatsHeaders { ["x-received-from"] = "uri=nats%3A%2F%2Fc;exchange=orders;redelivered=false;cluster-name=C;vhost=%2F" });
        await publisher.PublishAsync("orders.x", "sentinel"u8.ToArray());
        await publisher.PingAsync();

        foreach (var expected in new[] { "trail 'garbage;;;==%%zz'", "trail ''", "trail 'cluster-name=nats-b'" })
        {
            var message = await ReadAsync(subscriber);
            Assert.Equal(expected, Body(message));
            Assert.Equal("A", Assert.Single(HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(message.Headers).Headers)).ClusterName);
        }

        Assert.Equal("sentinel", Body(await ReadAsync(subscriber)));
    }

    [Fact]
    public async Task A_pair_with_max_hops_1_does_not_send_messages_back()
    {
        await StartEngineAsync(B, "B", A, "A");
        await StartEngineAsync(A, "A", B, "B");
        var onA = await SubscribeAsync(A, "orders.x");
        var onB = await SubscribeAsync(B, "orders.x");
        // Each server has the app SUB and the SUB of the link pulling towards the other server.
        foreach (var server in new[] { A, B })
        {
            List<string> have = [];
            await EventuallyAsync(async () => (have = await SubjectsAsync(server)).Count(s => s == "orders.x") == 2, () => $"two orders.x SUBs; have {string.Join(",", have)}");
        }

        var publisherA = await ConnectAsync(A);
        await publisherA.PublishAsync("orders.x", "from-a"u8.ToArray());
        await publisherA.PingAsync();
        var forwarded = await ReadAsync(onB);
        Assert.Equal("from-a", Body(forwarded));
        Assert.Equal("from-a", Body(await ReadAsync(onA)));

        // A sentinel published on B travels the same reverse link after the forwarded copy, which must have been dropped.
        var publisherB = await ConnectAsync(B);
        await publisherB.PublishAsync("orders.x", "sentinel-b"u8.ToArray());
        await publisherB.PingAsync();
        var next = await ReadAsync(onA);
        Assert.Equal("sentinel-b", Body(next));
        Assert.Equal("B", Assert.Single(HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(next.Headers).Headers)).ClusterName);
    }
}
