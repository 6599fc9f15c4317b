using System.Buffers.Binary;
using System.Text;
using Federation.Core.Hops;
using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// What the link reads from RabbitMQ.Client's parsed headers, and which content headers the client cannot parse at all.
/// </summary>
public sealed class AmqpHeaderMappingTests
{
    [Fact]
    public void Received_values_are_kept_exactly_and_go_back_out_as_they_came()
    {
        byte[] invalid = [0x66, 0xC3, 0x28];
        var received = new Dictionary<string, object?>
        {
            ["text"] = invalid.Clone(),
            ["valid"] = Encoding.UTF8.GetBytes("héllo"),
            ["when"] = new AmqpTimestamp(1_700_000_000_000),
            ["nested"] = new List<object?> { new Dictionary<string, object?> { ["inner"] = invalid.Clone() } },
        };

        var headers = AmqpHeaders.FromAmqpMessageHeaders(received)!;
        Assert.Equal(new NonUtf8String(invalid), headers["text"]);
        Assert.Equal("héllo", headers["valid"]);
        Assert.Equal(new UnrepresentableTimestamp(1_700_000_000_000), headers["when"]);

        var sent = AmqpHeaders.ToAmqp(headers)!;
        Assert.Equal(invalid, Assert.IsType<byte[]>(sent["text"])); // a long string again, not binary
        Assert.Equal(new AmqpTimestamp(1_700_000_000_000), sent["when"]);
        var inner = (Dictionary<string, object?>)((List<object?>)sent["nested"]!)[0]!;
        Assert.Equal(invalid, Assert.IsType<byte[]>(inner["inner"]));
    }

    [Fact]
    public void A_void_trail_is_the_empty_trail_the_client_could_not_tell_from_it()
    {
        var headers = AmqpHeaders.FromAmqpMessageHeaders(new Dictionary<string, object?> { [HopHeaders.ReceivedFrom] = null, ["other"] = null })!;
        Assert.Empty(Assert.IsType<List<object?>>(headers[HopHeaders.ReceivedFrom]));
        Assert.Null(headers["other"]);
    }

    [Fact]
    public void A_far_future_timestamp_property_is_kept()
    {
        var properties = new BasicProperties { Timestamp = new AmqpTimestamp(long.MinValue + 3) };
        Assert.Equal(long.MinValue + 3, AmqpProperties.FromAmqp(properties).UnixTimestamp);
    }

    [Theory]
    [InlineData(28, null)]
    [InlineData(29, "scale 29")]
    [InlineData(200, "scale 200")]
    public void The_check_finds_decimals_the_client_cannot_hold_also_nested(byte scale, string? expected)
    {
        var decimalField = RawContentHeader.DecimalField("d", scale, 1);
        // outer: { arr: [ decimal ] }: the decimal's name ("d", two bytes) goes, an array item has none.
        var nested = RawContentHeader.TableField("outer", [3, (byte)'a', (byte)'r', (byte)'r', .. ArrayOf(decimalField[2..])]);
        var problem = ClientUnreadableHeader.Problem(ContentHeader(RawContentHeader.DecimalField("fine", 2, 7), nested));
        if (expected is null)
        {
            Assert.Null(problem);
        }
        else
        {
            Assert.Contains(expected, problem, StringComparison.Ordinal);
            Assert.Contains("'outer'", problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_check_passes_what_the_client_reads_and_finds_unknown_types_and_overruns()
    {
        // Every type the client knows, empty containers included.
        var readable = new BasicProperties
        {
            ContentType = "text/plain",
            Headers = new Dictionary<string, object?>
            {
                ["s"] = "text", ["i"] = 1, ["l"] = 2L, ["b"] = true, ["d"] = 1.5, ["f"] = 1.5f, ["m"] = 1.25m, ["x"] = new BinaryTableValue([1, 2]),
                ["t"] = new AmqpTimestamp(1), ["v"] = null, ["a"] = new List<object?>(), ["e"] = new Dictionary<string, object?>(),
                ["deep"] = new List<object?> { new Dictionary<string, object?> { ["k"] = new List<object?> { 1, "two" } } },
            },
        };
        Assert.Null(ClientUnreadableHeader.Problem(ContentHeader(readable)));

        Assert.Contains("type 'Z'", ClientUnreadableHeader.Problem(ContentHeader([1, (byte)'k', (byte)'Z'])), StringComparison.Ordinal);
        Assert.Contains("runs past", ClientUnreadableHeader.Problem(ContentHeader([1, (byte)'k', (byte)'S', 0, 0, 1, 0, (byte)'x'])), StringComparison.Ordinal);

        // An array that declares 1 byte and holds a 5-byte value: the client reads on while fewer bytes than the length were
        // read and never checks a value against its container, so it reads this; the check must not call it unreadable.
        Assert.Null(ClientUnreadableHeader.Problem(ContentHeader([1, (byte)'k', (byte)'A', 0, 0, 0, 1, (byte)'I', 0, 0, 0, 5])));

        // Nesting: up to the bound it is read; beyond it (20,000 levels fit in a 128 KiB frame, and the client's recursive
        // reader overflows its stack on them) it is not, and the walk itself does not recurse.
        Assert.Null(ClientUnreadableHeader.Problem(ContentHeader(RawContentHeader.NestedArraysField("k", ClientUnreadableHeader.MaxNesting - 1))));
        var tooDeep = ClientUnreadableHeader.Problem(ContentHeader(RawContentHeader.NestedArraysField("k", ClientUnreadableHeader.MaxNesting)));
        Assert.Contains("header 'k' nests tables and arrays more than 1000 deep", tooDeep, StringComparison.Ordinal);
        Assert.Contains("nests tables and arrays", ClientUnreadableHeader.Problem(ContentHeader(RawContentHeader.NestedArraysField("k", 20_000))), StringComparison.Ordinal);
    }

    /// <summary>An array field's value ('A', length, items) holding one item.</summary>
    private static byte[] ArrayOf(byte[] item)
    {
        var value = new byte[5 + item.Length];
        value[0] = (byte)'A';
        BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(1), (uint)item.Length);
        item.CopyTo(value, 5);
        return value;
    }

    /// <summary>A content header frame's payload with a header table of these raw fields.</summary>
    private static byte[] ContentHeader(params byte[][] fields)
    {
        var properties = new byte[1000 + fields.Sum(f => f.Length) + 100];
        var written = RawContentHeader.WithFields("id", fields).WriteTo(properties);
        return [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .. properties.AsSpan(0, written)];
    }

    private static byte[] ContentHeader(BasicProperties properties)
    {
        IAmqpWriteable writeable = properties;
        var buffer = new byte[writeable.GetRequiredBufferSize()];
        var written = writeable.WriteTo(buffer);
        return [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .. buffer.AsSpan(0, written)];
    }
}
