using System.Buffers;
using System.Buffers.Binary;
using Xunit;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// The subject connections' defuser: however the bytes are split into reads, it passes every byte on in order, clears
/// the property flags of exactly the content header the client cannot read, and records that delivery.
/// </summary>
public sealed class InboundFrameDefuserTests
{
    private static readonly byte[] Heartbeat = Frame(8, []);
    private static readonly byte[] BodyFrame = Frame(3, [.. "body with 'A' and \u00CE bytes"u8]);
    private static readonly byte[] Readable = Frame(2, ContentHeader(
        RawContentHeader.TableField("x-received-from", RawContentHeader.TableField("cluster-name", RawContentHeader.DecimalField("d", 2, 7))),
        RawContentHeader.NestedArraysField("fine", 20)));

    private static readonly byte[] TooDeep = Frame(2, ContentHeader(RawContentHeader.NestedArraysField("outer", 20_000)));
    private static readonly byte[] BadDecimal = Frame(2, ContentHeader(RawContentHeader.DecimalField("d", 200, 1)));

    [Fact]
    public void Defuses_exactly_the_unreadable_headers_and_passes_everything_else_unchanged_however_the_bytes_are_split()
    {
        byte[] stream =
        [
            .. Deliver(5), .. Readable, .. BodyFrame, .. Heartbeat, .. Deliver(6), .. TooDeep, .. BodyFrame,
            .. Deliver(7), .. Readable, .. Deliver(8), .. BadDecimal, .. Deliver(9), .. Readable, .. BodyFrame,
        ];
        var expected = stream.ToArray();
        var tooDeepAt = Deliver(5).Length + Readable.Length + BodyFrame.Length + Heartbeat.Length + Deliver(6).Length;
        var badDecimalAt = tooDeepAt + TooDeep.Length + BodyFrame.Length + Deliver(7).Length + Readable.Length + Deliver(8).Length;
        foreach (var at in new[] { tooDeepAt, badDecimalAt })
        {
            // The flags follow the frame header (7 bytes), class id, weight and body size (12 bytes).
            expected[at + 7 + 12] = 0;
            expected[at + 7 + 13] = 0;
        }

        foreach (var readSize in new[] { 1, 2, 3, 6, 7, 8, 13, 100, 4096, stream.Length })
        {
            var unreadable = new UnreadableDeliveries();
            var defuser = new InboundFrameDefuser(unreadable);
            var output = new ArrayBufferWriter<byte>();
            for (var at = 0; at < stream.Length; at += readSize)
            {
                Assert.Null(defuser.Take(stream.AsSpan(at, Math.Min(readSize, stream.Length - at)), output));
            }

            Assert.Equal(expected, output.WrittenSpan.ToArray());
            Assert.Contains("header 'outer' nests tables and arrays more than 1000 deep", unreadable.Take(1, 6), StringComparison.Ordinal);
            Assert.Contains("header 'd' holds an AMQP decimal of scale 200", unreadable.Take(1, 8), StringComparison.Ordinal);
            Assert.All(new ulong[] { 5, 6, 7, 8, 9 }, tag => Assert.Null(unreadable.Take(1, tag)));
        }
    }

    [Fact]
    public void Holds_a_content_header_back_until_it_is_whole()
    {
        var defuser = new InboundFrameDefuser(new UnreadableDeliveries());
        var output = new ArrayBufferWriter<byte>();
        byte[] stream = [.. Deliver(1), .. TooDeep];
        var split = Deliver(1).Length + 7 + 100;

        Assert.Null(defuser.Take(stream.AsSpan(0, split), output));
        Assert.Equal(Deliver(1).Length + 7, output.WrittenCount);
        Assert.Null(defuser.Take(stream.AsSpan(split), output));
        Assert.Equal(stream.Length, output.WrittenCount);
    }

    [Fact]
    public void Leaves_a_protocol_header_reply_to_the_client()
    {
        var defuser = new InboundFrameDefuser(new UnreadableDeliveries());
        var output = new ArrayBufferWriter<byte>();
        Assert.Null(defuser.Take("AMQP\0\0\u0009\u0001"u8, output));
        Assert.Null(defuser.Take(TooDeep, output));
        Assert.Equal([.. "AMQP\0\0\u0009\u0001"u8, .. TooDeep], output.WrittenSpan.ToArray());
    }

    /// <summary>A basic.deliver method frame on channel 1 with consumer tag "ct", the given delivery tag, exchange "ex" and routing key "rk".</summary>
    private static byte[] Deliver(ulong deliveryTag)
    {
        var tag = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(tag, deliveryTag);
        return Frame(1, [0, 60, 0, 60, 2, (byte)'c', (byte)'t', .. tag, 0, 2, (byte)'e', (byte)'x', 2, (byte)'r', (byte)'k']);
    }

    private static byte[] Frame(byte type, byte[] payload)
    {
        var frame = new byte[7 + payload.Length + 1];
        frame[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(1), 1);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(3), (uint)payload.Length);
        payload.CopyTo(frame, 7);
        frame[^1] = 0xCE;
        return frame;
    }

    /// <summary>A content header frame's payload (class 60, weight 0, body size 0) with a header table of these raw fields.</summary>
    private static byte[] ContentHeader(params byte[][] fields)
    {
        var header = RawContentHeader.WithFields("id", fields);
        var properties = new byte[header.GetRequiredBufferSize()];
        header.WriteTo(properties);
        return [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .. properties];
    }
}
