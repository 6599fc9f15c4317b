using System.Text;
using Federation.Amqp.Messaging;
using RabbitMQ.Client;
using Xunit;

namespace Federation.Amqp.IntegrationTests.Messaging;

/// <summary>
/// Header values of AMQP types that the subject SPI has no type for (another client published them) arrive as text that
/// keeps their content: never the name of a .NET type.
/// </summary>
public sealed class AmqpSubjectHeadersTests
{
    [Fact]
    public void Values_of_other_types_arrive_as_invariant_text_and_nested_tables_as_json()
    {
        var table = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["text"] = Encoding.UTF8.GetBytes("plain"),
            ["flag"] = true,
            ["number"] = 1.5,
            ["when"] = new AmqpTimestamp(1_700_000_000),
            ["nested"] = new Dictionary<string, object?>
            {
                ["name"] = Encoding.UTF8.GetBytes("x"),
                ["count"] = 3,
                ["deeper"] = new List<object?> { Encoding.UTF8.GetBytes("a"), false, null, double.NaN },
            },
            ["repeated"] = new List<object?> { Encoding.UTF8.GetBytes("one"), new List<object?> { 1, 2 } },
        };

        var fields = AmqpSubjectHeaders.FromAmqp(table)!;

        Assert.Equal(
            [
                new("text", "plain"),
                new("flag", "true"),
                new("number", "1.5"),
                new("when", "1700000000"),
                new("nested", """{"name":"x","count":3,"deeper":["a",false,null,"NaN"]}"""),
                new("repeated", "one"),
                new("repeated", "[1,2]"),
            ],
            fields);
        Assert.DoesNotContain(fields, f => f.Value.Contains("System.", StringComparison.Ordinal));
    }

    [Fact]
    public void A_byte_array_value_arrives_as_its_text_not_the_name_of_its_type()
    {
        // AMQP's byte array field type ('x'), which amqplib writes for a Node.js Buffer: RabbitMQ.Client reads it as a
        // BinaryTableValue, which a black-box run saw relayed by a broker instance as "RabbitMQ.Client.BinaryTableValue".
        var table = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["bytes"] = new BinaryTableValue(Encoding.UTF8.GetBytes("mcollective.node.web1")),
            ["nested"] = new Dictionary<string, object?> { ["bytes"] = new BinaryTableValue(Encoding.UTF8.GetBytes("x")) },
            ["repeated"] = new List<object?> { new BinaryTableValue(Encoding.UTF8.GetBytes("one")), Encoding.UTF8.GetBytes("two") },
        };

        var fields = AmqpSubjectHeaders.FromAmqp(table)!;

        Assert.Equal(
            [
                new("bytes", "mcollective.node.web1"),
                new("nested", """{"bytes":"x"}"""),
                new("repeated", "one"),
                new("repeated", "two"),
            ],
            fields);
    }
}
