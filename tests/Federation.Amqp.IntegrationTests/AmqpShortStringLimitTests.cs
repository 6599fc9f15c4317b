using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A string property or a header name (nested ones included) over AMQP's 255-byte short string is refused before it is
/// written, as a message the transport can never carry, naming what is too long; the one a publish unit holds keeps its index.
/// </summary>
public sealed class AmqpShortStringLimitTests
{
    [Fact]
    public void Short_strings_of_255_bytes_pass()
    {
        var properties = new BasicProperties
        {
            ContentType = new string('c', 255),
            MessageId = new string('é', 127), // 254 bytes
            Headers = new Dictionary<string, object?> { [new string('h', 255)] = new Dictionary<string, object?> { [new string('é', 127)] = 1 } },
        };

        AmqpShortStringLimit.Check(properties, "x", "k");
    }

    [Fact]
    public void A_property_over_255_bytes_is_refused_naming_it()
    {
        // 100 invalid bytes read by RabbitMQ.Client as 100 U+FFFD: 300 bytes of UTF-8.
        var properties = new BasicProperties { ContentType = new string('\uFFFD', 100) };

        var refused = Assert.Throws<MessageTooLargeException>(() => AmqpShortStringLimit.Check(properties, "orders", "eu.created", index: 2));

        Assert.Equal(2, refused.Index);
        Assert.Contains("exchange 'orders' with routing key 'eu.created' has a property content_type of 300 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_header_name_over_255_bytes_is_refused_also_inside_a_table_in_an_array(bool nested)
    {
        var name = new string('h', 300);
        var headers = nested
            ? new Dictionary<string, object?> { ["list"] = new List<object?> { 1, new Dictionary<string, object?> { [name] = "v" } } }
            : new Dictionary<string, object?> { [name] = "v" };

        var refused = Assert.Throws<MessageTooLargeException>(() => AmqpShortStringLimit.Check(new BasicProperties { Headers = headers }, "orders", "k"));

        Assert.Contains("header name of 300 bytes", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(name, refused.Message, StringComparison.Ordinal); // only its start
    }

    [Fact]
    public void Checking_a_forwarded_message_with_its_trail_allocates_nothing()
    {
        // The headers as the publisher converts them: its own table, and the trail as a list of tables (see CopyToAmqp).
        var trail = new List<object?>
        {
            new Dictionary<string, object?> { ["uri"] = "amqp://upstream", ["exchange"] = "orders", ["redelivered"] = false, ["cluster-name"] = "eu", ["virtual-host"] = "/" },
        };
        var properties = new BasicProperties
        {
            ContentType = "application/json",
            MessageId = "m-1",
            // A long string that is not UTF-8 goes out as a byte[] (see AmqpHeaders.ToAmqpValue).
            Headers = new Dictionary<string, object?> { ["x-received-from"] = trail, ["tenant"] = "acme", ["legacy"] = new byte[] { 0xC3, 0x28, 0xFF, 0x41 } },
        };
        AmqpShortStringLimit.Check(properties, "orders", "k"); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            AmqpShortStringLimit.Check(properties, "orders", "k");
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
