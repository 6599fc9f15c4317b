using System.Text;
using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A routing key over AMQP's 255 bytes (counted in UTF-8, as the wire does) is refused before it is written, as a message
/// the transport can never carry, naming the exchange and the key's length; the one a publish unit holds keeps its index.
/// </summary>
public sealed class AmqpRoutingKeyLimitTests
{
    [Fact]
    public void A_key_of_255_bytes_passes()
    {
        AmqpRoutingKeyLimit.Check("x", new string('k', 255));
        AmqpRoutingKeyLimit.Check("x", new string('é', 127)); // 254 bytes
    }

    [Fact]
    public void A_key_over_255_bytes_is_refused_naming_the_exchange_and_its_length()
    {
        var key = new string('é', 128); // 128 chars, 256 bytes

        var refused = Assert.Throws<MessageTooLargeException>(() => AmqpRoutingKeyLimit.Check("orders", key, index: 3));

        Assert.Equal(3, refused.Index);
        Assert.Contains("exchange 'orders'", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"routing key of {Encoding.UTF8.GetByteCount(key)} bytes", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, refused.Message, StringComparison.Ordinal); // only its start
    }
}
