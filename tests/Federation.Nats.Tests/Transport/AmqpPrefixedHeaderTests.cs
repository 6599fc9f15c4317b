using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// Headers named <c>amqp-*</c> that are not a property this message carries cross as ordinary headers, both ways, instead of
/// vanishing without a count; a property header the message writes wins over a header of the same name.
/// </summary>
public sealed class AmqpPrefixedHeaderTests
{
    [Theory]
    [InlineData("amqp-foo", "x")]
    [InlineData("AMQP-Bar", "y")]
    [InlineData("amqp-", "empty name")]
    [InlineData("amqp-priority", "high")]
    [InlineData("amqp-priority", "300")]
    [InlineData("amqp-timestamp", "yesterday")]
    [InlineData("amqp-persistent", "maybe")]
    [InlineData("amqp-persistent", "")]
    public void A_received_amqp_header_that_is_not_a_property_it_can_set_is_kept_as_a_header(string name, string value)
    {
        var properties = NatsMessageMapping.ToProperties(new NatsHeaders { [name] = value, ["amqp-message-id"] = "m1" });

        Assert.Equal(value, properties.Headers?[name]);
        Assert.Single(properties.Headers!);
        Assert.Equal("m1", properties.MessageId);
        Assert.Null(properties.Priority);
        Assert.Null(properties.UnixTimestamp);
        Assert.False(properties.Persistent);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData("false", false)]
    [InlineData("FALSE", false)]
    public void Persistent_reads_true_or_false_in_any_case_as_the_property(string value, bool persistent)
    {
        var properties = NatsMessageMapping.ToProperties(new NatsHeaders { ["amqp-persistent"] = value });

        Assert.Equal(persistent, properties.Persistent);
        Assert.Null(properties.Headers);
    }

    [Fact]
    public void Property_headers_whose_values_parse_set_the_properties_in_any_case()
    {
        var properties = NatsMessageMapping.ToProperties(new NatsHeaders
        {
            ["AMQP-Content-Type"] = "application/json",
            ["amqp-priority"] = "9",
            ["amqp-timestamp"] = "1733400000",
            ["amqp-type"] = "order",
        });

        Assert.Equal("application/json", properties.ContentType);
        Assert.Equal((byte)9, properties.Priority);
        Assert.Equal(1733400000, properties.UnixTimestamp);
        Assert.Equal("order", properties.Type);
        Assert.Null(properties.Headers);
    }

    [Fact]
    public void An_amqp_header_crosses_into_nats_unless_the_message_writes_that_property_header()
    {
        var headers = NatsMessageMapping.ToNatsHeaders(new MessageProperties
        {
            ContentType = "application/json",
            Priority = 4,
            Headers = new()
            {
                ["amqp-foo"] = "x",
                ["amqp-count"] = 3,
                ["amqp-type"] = "not the property", // no Type property: nothing to collide with
                ["AMQP-Content-Type"] = "text/plain", // the property is written: it wins
                ["amqp-priority"] = "high",
            },
        })!;

        Assert.Equal("x", headers["amqp-foo"].ToString());
        Assert.Equal("3", headers["amqp-count"].ToString());
        Assert.Equal("not the property", headers["amqp-type"].ToString());
        Assert.Equal("application/json", Assert.Single(headers["amqp-content-type"]));
        Assert.Equal("4", Assert.Single(headers["amqp-priority"]));
        Assert.Equal(5, headers.Count);
    }

    [Fact]
    public void A_property_that_is_not_written_leaves_the_header_of_its_name_to_cross()
    {
        // Persistent false and a CR in the content type: neither property header is written, so the headers cross.
        var headers = NatsMessageMapping.ToNatsHeaders(new MessageProperties
        {
            ContentType = "bad\rvalue",
            Headers = new() { ["amqp-persistent"] = "maybe", ["amqp-content-type"] = "text/plain" },
        })!;

        Assert.Equal("maybe", headers["amqp-persistent"].ToString());
        Assert.Equal("text/plain", headers["amqp-content-type"].ToString());
        Assert.Equal(2, headers.Count);
    }

    [Fact]
    public void Unparsable_amqp_headers_survive_nats_to_amqp_to_nats()
    {
        var sent = new NatsHeaders
        {
            ["amqp-foo"] = "x",
            ["amqp-priority"] = "high",
            ["amqp-timestamp"] = "yesterday",
            ["amqp-persistent"] = "maybe",
            ["amqp-message-id"] = "m1",
        };

        var back = NatsMessageMapping.ToNatsHeaders(NatsMessageMapping.ToProperties(sent))!;

        Assert.Equal(
            sent.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => (h.Key, h.Value.ToString())),
            back.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => (h.Key, h.Value.ToString())));
    }

    [Fact]
    public void Reading_property_headers_allocates_only_the_properties()
    {
        // Runs for every received message: matching a property header's name must not allocate (it took a substring and
        // a lower-cased copy per header before). The least of a few measurements, as a one-off allocation of the
        // runtime's on this thread can land inside any single one.
        var headers = new NatsHeaders { ["amqp-content-type"] = "application/json", ["AMQP-Message-Id"] = "m1", ["amqp-priority"] = "4", ["amqp-persistent"] = "true" };
        _ = NatsMessageMapping.ToProperties(headers);
        _ = new MessageProperties();
        var baseline = long.MaxValue;
        var allocated = long.MaxValue;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            _ = new MessageProperties();
            var between = GC.GetAllocatedBytesForCurrentThread();
            _ = NatsMessageMapping.ToProperties(headers);
            var after = GC.GetAllocatedBytesForCurrentThread();
            baseline = Math.Min(baseline, between - before);
            allocated = Math.Min(allocated, after - between);
        }

        Assert.True(allocated <= baseline, $"allocated {allocated} B; a MessageProperties is {baseline} B");
    }

    [Fact]
    public void Writing_properties_and_headers_into_a_reused_header_object_allocates_nothing()
    {
        // Runs for every forwarded message: neither a property header's name (it was built per header before) nor the
        // check for a colliding amqp-* header may allocate.
        var properties = new MessageProperties
        {
            ContentType = "application/json",
            MessageId = "m1",
            Persistent = true,
            Headers = new() { ["tenant"] = "acme", ["region"] = "eu", ["amqp-foo"] = "x", ["amqp-message-id"] = "loses" },
        };
        var reused = new NatsHeaders();
        NatsMessageMapping.WriteHeaders(properties, reused);
        var allocated = long.MaxValue;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            reused.Clear();
            var before = GC.GetAllocatedBytesForCurrentThread();
            NatsMessageMapping.WriteHeaders(properties, reused);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, allocated);
        Assert.Equal(6, reused.Count);
    }
}
