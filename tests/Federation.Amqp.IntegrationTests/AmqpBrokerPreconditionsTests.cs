using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// An expiration RabbitMQ would refuse, and a CC or BCC header that is not an array, are refused before they are written
/// (RabbitMQ would close the channel), as messages the downstream can never take; what RabbitMQ takes passes.
/// </summary>
public sealed class AmqpBrokerPreconditionsTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("60000")]
    [InlineData("+5")]
    [InlineData("-0")]
    [InlineData("007")]
    [InlineData("4294967295")]
    public void Expirations_rabbitmq_takes_pass(string expiration) =>
        AmqpBrokerPreconditions.Check(new BasicProperties { Expiration = expiration }, "x", "k");

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData(" 100")]
    [InlineData("100 ")]
    [InlineData("")]
    [InlineData("+")]
    [InlineData("4294967296")]
    [InlineData("99999999999999999999999")]
    public void Expirations_rabbitmq_refuses_are_refused_naming_the_value(string expiration)
    {
        var refused = Assert.Throws<MessageRefusedException>(() => AmqpBrokerPreconditions.Check(new BasicProperties { Expiration = expiration }, "orders", "eu", index: 1));

        Assert.Equal(1, refused.Index);
        Assert.Contains($"has the expiration '{expiration}'", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CC")]
    [InlineData("BCC")]
    public void A_routing_header_that_is_not_an_array_is_refused_and_an_array_passes(string name)
    {
        var refused = Assert.Throws<MessageRefusedException>(() =>
            AmqpBrokerPreconditions.Check(new BasicProperties { Headers = new Dictionary<string, object?> { [name] = "other.key" } }, "orders", "eu"));
        Assert.Contains($"header '{name}' that is a String, not an array", refused.Message, StringComparison.Ordinal);

        AmqpBrokerPreconditions.Check(new BasicProperties { Headers = new Dictionary<string, object?> { [name] = new List<object?> { "other.key" } } }, "orders", "eu");
        AmqpBrokerPreconditions.Check(new BasicProperties { Headers = new Dictionary<string, object?> { ["cc"] = "lower case is no routing header" } }, "orders", "eu");
    }

    [Theory]
    [InlineData("CC")]
    [InlineData("BCC")]
    public void A_void_routing_header_goes_out_as_the_empty_array_it_was_and_passes(string name)
    {
        // RabbitMQ.Client reads an empty array as void, and RabbitMQ refuses a void CC or BCC.
        var table = new Dictionary<string, object?>(StringComparer.Ordinal);
        AmqpHeaders.CopyToAmqp(new Dictionary<string, object?> { [name] = null, ["other"] = null }, table);

        Assert.Equal(new List<object?>(), table[name]);
        Assert.Null(table["other"]);
        AmqpBrokerPreconditions.Check(new BasicProperties { Headers = table }, "orders", "eu");
    }
}
