using Federation.Core.Hops;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Microsoft.Extensions.Primitives;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// A received <c>x-received-from</c> header that does not decode as hops is malformed as a whole, as an AMQP one that is
/// not an array of tables: no trail for the hop rules, moved into <c>x-invalid-headers</c> by the next hop. A well-formed
/// trail decodes as before.
/// </summary>
public sealed class MalformedTrailTests
{
    private const string WellFormedHop = "uri=nats%3A%2F%2Fa%3A4222;exchange=orders;redelivered=false;cluster-name=A;vhost=%2F";

    public static TheoryData<string[]> Malformed => new()
    {
        { ["garbage;;;==%%zz"] },
        { [""] },
        { ["cluster-name=nats-b"] },
        { ["uri=a;exchange=orders;vhost=%zz"] },
        { ["uri=a;=x;exchange=orders;vhost=%2F"] },
        { [WellFormedHop, "garbage"] },
        { ["garbage", WellFormedHop] },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void An_undecodable_trail_counts_as_no_trail_and_the_next_hop_moves_it_into_x_invalid_headers(string[] values)
    {
        var received = NatsMessageMapping.ToProperties(new NatsHeaders { ["x-received-from"] = new StringValues(values) });

        // max-hops 1: a hop decoded from it would have used up the budget.
        Assert.Equal(ForwardVerdict.Forward, HopRules.Check(received.Headers, 1, "DOWN", "/"));
        Assert.Empty(HopRules.ReadReceivedFrom(received.Headers));

        var forwarded = HopRules.PrependReceivedFrom(received.Headers, new ReceivedFromEntry("nats://up:4222", "orders", false, "UP", "/"));
        Assert.Equal([new ReceivedFromEntry("nats://up:4222", "orders", false, "UP", "/")], HopRules.ReadReceivedFrom(forwarded));
        var invalid = Assert.IsType<Dictionary<string, object?>>(forwarded["x-invalid-headers"]);
        Assert.Equal([string.Join(", ", values)], Assert.IsType<List<object?>>(invalid["x-received-from"]));

        // On to NATS: the new trail only (x-invalid-headers is a table, which NATS headers cannot carry).
        var headers = NatsMessageMapping.ToNatsHeaders(new MessageProperties { Headers = forwarded })!;
        Assert.Equal(1, headers["x-received-from"].Count);
        Assert.False(headers.ContainsKey("x-invalid-headers"));
    }

    [Fact]
    public void A_malformed_trail_no_hop_has_moved_aside_is_passed_on_as_it_came()
    {
        var received = NatsMessageMapping.ToProperties(new NatsHeaders { ["x-received-from"] = "garbage" });
        Assert.Equal("garbage", NatsMessageMapping.ToNatsHeaders(received)!["x-received-from"].ToString());
    }

    [Fact]
    public void A_hop_of_an_older_plugin_without_vhost_or_cluster_name_is_a_hop_and_counts_toward_max_hops()
    {
        // What RabbitMQ's federation plugin wrote before it added cluster-name and vhost (uri, exchange, redelivered), carried
        // on to NATS by a link from AMQP. AMQP counts it toward max-hops; so must the NATS side, or the whole trail is lost.
        string[] values = [WellFormedHop, "uri=amqp%3A%2F%2Fold;exchange=orders;redelivered=false"];
        var received = NatsMessageMapping.ToProperties(new NatsHeaders { ["x-received-from"] = new StringValues(values) });

        var trail = Assert.IsType<List<object?>>(received.Headers!["x-received-from"]);
        Assert.Equal(NatsMessageMapping.DecodeTrail(values), trail);
        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(received.Headers, 2, "DOWN", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(received.Headers, 3, "A", "/"));
    }

    [Theory]
    [InlineData("maybe")]
    [InlineData("")]
    [InlineData("1")]
    public void A_hop_whose_redelivered_is_not_a_boolean_is_a_hop_with_that_text(string redelivered)
    {
        // An AMQP trail keeps such a field as data (RabbitMQ's plugin never reads it). Refused, it made the whole trail
        // malformed: no max-hops, no cycle detection for the other hops.
        string[] values = ["uri=nats%3A%2F%2Fup;exchange=orders;redelivered=" + redelivered + ";cluster-name=UP;vhost=%2F", WellFormedHop];
        var received = NatsMessageMapping.ToProperties(new NatsHeaders { ["x-received-from"] = new StringValues(values) });

        var trail = Assert.IsType<List<object?>>(received.Headers!["x-received-from"]);
        Assert.Equal(NatsMessageMapping.DecodeTrail(values), trail);
        Assert.Equal(redelivered, Assert.IsType<Dictionary<string, object?>>(trail[0])["redelivered"]);
        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(received.Headers, 2, "DOWN", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(received.Headers, 3, "UP", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(received.Headers, 3, "A", "/"));

        // Passed on to the next hop as it came.
        var forwarded = NatsMessageMapping.ToNatsHeaders(received)!;
        Assert.Equal(values, forwarded["x-received-from"].ToArray());
    }

    [Fact]
    public void A_well_formed_trail_decodes_exactly_as_before()
    {
        string[] values = [WellFormedHop, "uri=amqp%3A%2F%2Fb;exchange=x;redelivered=true;vhost=v%3Bw", " uri=c ; exchange=e ; vhost=%2F ;"];
        var received = NatsMessageMapping.ToProperties(new NatsHeaders { ["x-received-from"] = new StringValues(values) });

        var trail = Assert.IsType<List<object?>>(received.Headers!["x-received-from"]);
        Assert.Equal(NatsMessageMapping.DecodeTrail(values), trail);
        Assert.Equal(
            [
                new ReceivedFromEntry("nats://a:4222", "orders", false, "A", "/"),
                new ReceivedFromEntry("amqp://b", "x", true, null, "v;w"),
                new ReceivedFromEntry("c", "e", false, null, "/"),
            ],
            HopRules.ReadReceivedFrom(received.Headers));
        Assert.Equal(ForwardVerdict.MaxHopsExceeded, HopRules.Check(received.Headers, 3, "DOWN", "/"));
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(received.Headers, 4, "A", "/"));
    }
}
