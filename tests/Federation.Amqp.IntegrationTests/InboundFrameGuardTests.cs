using System.Buffers.Binary;
using Xunit;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// The guard that follows a connection's frames before RabbitMQ.Client parses them: it must find a content header the
/// client cannot read however the bytes are split into reads, and nothing else.
/// </summary>
public sealed class InboundFrameGuardTests
{
    private static readonly byte[] MethodFrame = Frame(1, [0, 60, 0, 60, 1, 2, 3, 4]);
    private static readonly byte[] Heartbeat = Frame(8, []);
    private static readonly byte[] BodyFrame = Frame(3, [.. "body with 'A' and \u00CE bytes"u8]);
    private static readonly byte[] Readable = Frame(2, ContentHeader(
        RawContentHeader.TableField("x-received-from", RawContentHeader.TableField("cluster-name", RawContentHeader.DecimalField("d", 2, 7))),
        RawContentHeader.NestedArraysField("fine", 20)));

    private static readonly byte[] TooDeep = Frame(2, ContentHeader(RawContentHeader.NestedArraysField("outer", 20_000)));

    [Fact]
    public void Finds_a_header_nested_too_deep_in_the_read_that_completes_it_however_the_bytes_are_split()
    {
        byte[] stream = [.. MethodFrame, .. Readable, .. BodyFrame, .. Heartbeat, .. MethodFrame, .. TooDeep, .. MethodFrame];
        var lastByteOfCulprit = MethodFrame.Length + Readable.Length + BodyFrame.Length + Heartbeat.Length + MethodFrame.Length + TooDeep.Length - 2;
        foreach (var readSize in new[] { 1, 2, 3, 6, 7, 8, 13, 100, 4096, stream.Length })
        {
            var guard = new InboundFrameGuard();
            string? problem = null;
            var at = 0;
            for (; at < stream.Length && problem is null; at += readSize)
            {
                problem = guard.Inspect(stream.AsSpan(at, Math.Min(readSize, stream.Length - at)));
            }

            Assert.NotNull(problem);
            Assert.Contains("header 'outer' nests tables and arrays more than 1000 deep", problem, StringComparison.Ordinal);

            // Found in the read holding the payload's last byte: the client has not seen the whole frame yet.
            var readThatFoundIt = (at / readSize) - 1;
            Assert.Equal(lastByteOfCulprit / readSize, readThatFoundIt);
        }
    }

    [Fact]
    public void Passes_every_frame_the_client_can_read()
    {
        byte[] stream = [.. MethodFrame, .. Readable, .. BodyFrame, .. Heartbeat, .. Readable, .. Readable, .. BodyFrame];
        foreach (var readSize in new[] { 1, 5, 7, 64, stream.Length })
        {
            var guard = new InboundFrameGuard();
            for (var at = 0; at < stream.Length; at += readSize)
            {
                Assert.Null(guard.Inspect(stream.AsSpan(at, Math.Min(readSize, stream.Length - at))));
            }
        }
    }

    [Fact]
    public void Leaves_a_protocol_header_reply_to_the_client()
    {
        var guard = new InboundFrameGuard();
        Assert.Null(guard.Inspect("AMQP\0\0\u0009\u0001"u8));
        Assert.Null(guard.Inspect(TooDeep));
    }

    [Fact]
    public void Checks_a_readable_header_without_allocating()
    {
        var guard = new InboundFrameGuard();
        byte[] frames = [.. Readable, .. BodyFrame];
        Assert.Null(guard.Inspect(frames));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            Assert.Null(guard.Inspect(frames));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
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
