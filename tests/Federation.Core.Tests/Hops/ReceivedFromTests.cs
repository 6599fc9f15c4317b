using System.Text;
using Federation.Core.Hops;
using Federation.Core.Transport;
using static Federation.Core.Tests.Hops.Trails;
using Xunit;

namespace Federation.Core.Tests.Hops;

public class ReceivedFromTests
{
    [Fact]
    public void Entry_is_a_table_with_the_plugins_fields_order_and_types()
    {
        var properties = new MessageProperties();

        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, new ReceivedFromEntry("amqp://up", "ux", true, "up-cluster", "uv"));

        var trail = Assert.IsType<List<object?>>(properties.Headers![HopHeaders.ReceivedFrom]);
        var table = Assert.IsType<Dictionary<string, object?>>(Assert.Single(trail));
        Assert.Equal(["uri", "exchange", "redelivered", "cluster-name", "vhost"], table.Keys);
        Assert.Equal(["amqp://up", "ux", true, "up-cluster", "uv"], table.Values);
        Assert.IsType<bool>(table["redelivered"]);
    }

    [Fact]
    public void Cluster_name_field_is_omitted_when_the_upstream_advertises_none()
    {
        var properties = new MessageProperties();

        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, new ReceivedFromEntry("amqp://up", "ux", false, null, "uv"));

        var table = Assert.IsType<Dictionary<string, object?>>(Assert.Single((List<object?>)properties.Headers![HopHeaders.ReceivedFrom]!));
        Assert.Equal(["uri", "exchange", "redelivered", "vhost"], table.Keys);
    }

    [Fact]
    public void Newest_hop_comes_first()
    {
        var properties = MessageThatLeft(Hop("a"), Hop("b"), Hop("c"));

        var trail = (List<object?>)properties.Headers![HopHeaders.ReceivedFrom]!;
        Assert.Equal(["c", "b", "a"], trail.Select(entry => ((Dictionary<string, object?>)entry!)["cluster-name"]));
        Assert.Equal([Hop("c"), Hop("b"), Hop("a")], HopRules.ReadReceivedFrom(properties.Headers));
    }

    [Fact]
    public void Only_a_newest_hop_flagged_redelivered_makes_the_message_a_redelivery()
    {
        var redelivered = new ReceivedFromEntry("amqp://b", "x", true, "b", "/");
        var first = new ReceivedFromEntry("amqp://b", "x", false, "b", "/");

        Assert.True(HopRules.NewestHopRedelivered(MessageThatLeft(Hop("a"), redelivered).Headers));
        Assert.False(HopRules.NewestHopRedelivered(MessageThatLeft(redelivered, first).Headers)); // an earlier hop's flag is another delivery's
        Assert.False(HopRules.NewestHopRedelivered(MessageThatLeft(Hop("a")).Headers));
        Assert.False(HopRules.NewestHopRedelivered(null));
        Assert.False(HopRules.NewestHopRedelivered(Table(("app", "value"))));
        Assert.False(HopRules.NewestHopRedelivered(Headers("not a trail")));
        Assert.False(HopRules.NewestHopRedelivered(Headers(new List<object?> { "not a table" })));
        Assert.False(HopRules.NewestHopRedelivered(Headers(new List<object?> { Table(("redelivered", "true")) }))); // text, not the flag
    }

    [Fact]
    public void Other_headers_are_kept()
    {
        var properties = new MessageProperties { Headers = Table(("app", "value")) };

        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, Hop("a"));

        Assert.Equal("value", properties.Headers["app"]);
        Assert.Equal(2, properties.Headers.Count);
    }

    [Fact]
    public void An_existing_header_table_is_changed_in_place_and_returned()
    {
        var headers = Table(("app", "value"));

        var result = HopRules.PrependReceivedFrom(headers, Hop("a"));

        Assert.Same(headers, result);
        Assert.Equal([Hop("a")], HopRules.ReadReceivedFrom(headers));
    }

    [Fact]
    public void Incoming_trail_is_not_mutated_because_other_copies_of_the_message_may_share_it()
    {
        var original = MessageThatLeft(Hop("a"));
        var shared = (List<object?>)original.Headers![HopHeaders.ReceivedFrom]!;
        var copy = original.Clone();

        copy.Headers = HopRules.PrependReceivedFrom(copy.Headers, Hop("b"));

        Assert.Single(shared);
        Assert.Same(shared, original.Headers[HopHeaders.ReceivedFrom]);
        Assert.Equal([Hop("b"), Hop("a")], HopRules.ReadReceivedFrom(copy.Headers));
    }

    [Fact]
    public void Malformed_value_is_replaced_and_moved_to_x_invalid_headers()
    {
        var properties = new MessageProperties { Headers = Headers("not an array") };

        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, Hop("a"));

        Assert.Equal([Hop("a")], HopRules.ReadReceivedFrom(properties.Headers));
        var invalid = Assert.IsType<Dictionary<string, object?>>(properties.Headers[HopHeaders.InvalidHeaders]);
        Assert.Equal(["not an array"], Assert.IsType<List<object?>>(invalid[HopHeaders.ReceivedFrom]));
    }

    [Fact]
    public void Displaced_value_is_merged_into_an_existing_x_invalid_headers_table_without_mutating_it()
    {
        var existingInvalid = Table(("other", "kept"), (HopHeaders.ReceivedFrom, new List<object?> { "older" }));
        var properties = new MessageProperties { Headers = Headers(42) };
        properties.Headers[HopHeaders.InvalidHeaders] = existingInvalid;

        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, Hop("a"));

        var invalid = Assert.IsType<Dictionary<string, object?>>(properties.Headers[HopHeaders.InvalidHeaders]);
        Assert.Equal("kept", invalid["other"]);
        Assert.Equal([42, "older"], Assert.IsType<List<object?>>(invalid[HopHeaders.ReceivedFrom]));
        Assert.Equal(["older"], (List<object?>)existingInvalid[HopHeaders.ReceivedFrom]!);
    }

    [Fact]
    public void Corrupt_x_invalid_headers_is_kept_inside_the_new_table()
    {
        var properties = new MessageProperties { Headers = Headers(42) };
        properties.Headers[HopHeaders.InvalidHeaders] = "corrupt";

        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, Hop("a"));

        var invalid = Assert.IsType<Dictionary<string, object?>>(properties.Headers[HopHeaders.InvalidHeaders]);
        Assert.Equal(["corrupt"], Assert.IsType<List<object?>>(invalid[HopHeaders.InvalidHeaders]));
        Assert.Equal([42], Assert.IsType<List<object?>>(invalid[HopHeaders.ReceivedFrom]));
    }

    [Fact]
    public void Read_skips_malformed_entries_and_decodes_utf8_text()
    {
        var fromAnotherAdapter = Table(
            ("uri", Encoding.UTF8.GetBytes("amqp://ü")),
            ("exchange", "ux"),
            ("vhost", Encoding.UTF8.GetBytes("/")));
        var headers = Headers(new List<object?>
        {
            "not a table",
            Table(("uri", "amqp://no-vhost"), ("exchange", "ux")),
            Table(("uri", "u"), ("exchange", "ux"), ("vhost", "/"), ("redelivered", "yes")),
            Table(("uri", "u"), ("exchange", "ux"), ("vhost", "/"), ("cluster-name", 3)),
            fromAnotherAdapter,
        });

        Assert.Equal([new ReceivedFromEntry("amqp://ü", "ux", false, null, "/")], HopRules.ReadReceivedFrom(headers));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not an array")]
    public void Read_of_a_missing_or_malformed_header_is_empty(object? value)
    {
        Assert.Empty(HopRules.ReadReceivedFrom(null));
        Assert.Empty(HopRules.ReadReceivedFrom(Headers(value)));
    }

    public static TheoryData<string> ExistingTrails => new() { "none", "no headers", "one hop", "malformed" };

    [Theory]
    [MemberData(nameof(ExistingTrails))]
    public void A_shared_entry_writes_what_a_per_message_entry_writes(string existing)
    {
        var entry = new ReceivedFromEntry("amqp://up", "ux", false, "up-cluster", "uv");
        var shared = HopRules.SharedReceivedFrom(entry);

        var expected = HopRules.PrependReceivedFrom(Existing(existing), entry);
        var actual = HopRules.PrependSharedReceivedFrom(Existing(existing), shared);

        Assert.Equal(expected.Keys, actual.Keys);
        Assert.Equivalent(expected, actual, strict: true);
        Assert.Same(shared.Table, ((List<object?>)actual[HopHeaders.ReceivedFrom]!)[0]);
    }

    [Fact]
    public void A_message_without_a_trail_gets_the_shared_one_element_trail_and_one_with_a_trail_a_new_list()
    {
        var shared = HopRules.SharedReceivedFrom(new ReceivedFromEntry("amqp://up", "ux", false, "up-cluster", "uv"));

        var first = HopRules.PrependSharedReceivedFrom(null, shared);
        var second = HopRules.PrependSharedReceivedFrom(new Dictionary<string, object?>(StringComparer.Ordinal) { ["h"] = 1 }, shared);
        Assert.Same(shared.SoleTrail, first[HopHeaders.ReceivedFrom]);
        Assert.Same(shared.SoleTrail, second[HopHeaders.ReceivedFrom]);
        Assert.Same(shared.Table, Assert.Single(shared.SoleTrail));

        // The existing trail, possibly shared with other copies of the message, is left as it was.
        var earlier = new List<object?> { shared.Table };
        var third = HopRules.PrependSharedReceivedFrom(new Dictionary<string, object?>(StringComparer.Ordinal) { [HopHeaders.ReceivedFrom] = earlier }, shared);
        var trail = Assert.IsType<List<object?>>(third[HopHeaders.ReceivedFrom]);
        Assert.NotSame(earlier, trail);
        Assert.Single(earlier);
        Assert.Equal(2, trail.Count);
        Assert.Single(shared.SoleTrail);
    }

    private static Dictionary<string, object?>? Existing(string existing) => existing switch
    {
        "none" => null,
        "no headers" => new Dictionary<string, object?>(StringComparer.Ordinal) { ["app"] = "a" },
        "one hop" => new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            [HopHeaders.ReceivedFrom] = new List<object?> { new Dictionary<string, object?>(StringComparer.Ordinal) { ["cluster-name"] = "c", ["vhost"] = "v" } },
        },
        _ => new Dictionary<string, object?>(StringComparer.Ordinal) { [HopHeaders.ReceivedFrom] = "not an array" },
    };
}
