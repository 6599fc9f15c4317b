using System.Buffers;
using System.Buffers.Binary;

namespace Federation.Amqp;

/// <summary>
/// The subject transport's alternative to <see cref="InboundFrameGuard"/>: instead of failing the connection over a
/// content header RabbitMQ.Client cannot read, it holds each content header back until it is whole, checks it with
/// <see cref="ClientUnreadableHeader"/>, and when the client could not read it, clears its property flags before the
/// client sees it (the client then reads a message without properties) and records the delivery in
/// <see cref="UnreadableDeliveries"/>, so that its consumer drops it.
/// </summary>
/// <remarks>
/// <para>Why not fail the connection as exchange links do: a subject connection carries every subscription of its owner
/// (a federation broker instance's requests and replies, a node's agents), its queues are exclusive or auto-delete and
/// go with it, and a shared group queue hands the message to the next member, whose connection it closes too. One
/// hostile publish closed every subscriber's connection, and a stream of them kept them down.</para>
/// <para>The delivery is known by the <c>basic.deliver</c> method frame just before the content header on the same
/// channel (its delivery tag), which is followed as it passes. Content headers larger than <see cref="MaxHeld"/> are
/// not held: such a header fails the connection as under <see cref="InboundFrameGuard"/>.</para>
/// </remarks>
internal sealed class InboundFrameDefuser(UnreadableDeliveries unreadable)
{
    /// <summary>The largest content header held back to be checked (RabbitMQ's frames are at most 128 KiB by default).</summary>
    public const int MaxHeld = 1 << 20;

    private const int FrameHeaderSize = 7;
    private const byte MethodFrame = 1;
    private const byte ContentHeaderFrame = 2;
    private const int ContentHeaderPrelude = 14;
    private const int FlagsOffset = 12;
    private const ushort BasicClass = 60;
    private const ushort DeliverMethod = 60;

    // basic.deliver's class and method ids, its consumer tag (a short string) and its delivery tag.
    private const int DeliverHeadSize = 4 + 1 + 255 + 8;

    private readonly byte[] frameHeader = new byte[FrameHeaderSize];
    private readonly byte[] methodHead = new byte[DeliverHeadSize];
    private readonly ClientUnreadableHeader.Scratch scratch = new();

    // Per channel: the delivery tag of the last method frame when it was a basic.deliver, else none.
    private readonly Dictionary<ushort, ulong?> deliveries = [];
    private int frameHeaderFill;
    private long frameRemaining;
    private byte frameType;
    private ushort channel;
    private int methodWanted;
    private int methodFill;
    private byte[] held = new byte[512];
    private int heldSize;
    private int heldFill;
    private bool notFrames;

    /// <summary>
    /// Takes the next bytes the broker sent and writes to <paramref name="output"/> those the client may read now, in
    /// order; a content header not yet whole stays here. Returns why the connection must fail instead (a content header
    /// too large to hold), or null.
    /// </summary>
    public string? Take(ReadOnlySpan<byte> received, IBufferWriter<byte> output)
    {
        while (!received.IsEmpty)
        {
            if (notFrames)
            {
                output.Write(received);
                return null;
            }

            if (frameRemaining == 0)
            {
                if (TakeFrameHeader(ref received, output) is { } problem)
                {
                    return problem;
                }

                continue;
            }

            var take = (int)Math.Min(frameRemaining, received.Length);
            var bytes = received[..take];
            if (frameType == ContentHeaderFrame && heldFill < heldSize)
            {
                var part = bytes[..Math.Min(bytes.Length, heldSize - heldFill)];
                part.CopyTo(held.AsSpan(heldFill));
                heldFill += part.Length;
                if (heldFill == heldSize)
                {
                    Release(output);
                }

                // The frame-end octet, when this read holds it, follows the released header.
                output.Write(bytes[part.Length..]);
            }
            else
            {
                if (frameType == MethodFrame && methodFill < methodWanted)
                {
                    var part = bytes[..Math.Min(bytes.Length, methodWanted - methodFill)];
                    part.CopyTo(methodHead.AsSpan(methodFill));
                    methodFill += part.Length;
                    if (methodFill == methodWanted)
                    {
                        deliveries[channel] = DeliveryTag(methodHead.AsSpan(0, methodWanted));
                    }
                }

                output.Write(bytes);
            }

            frameRemaining -= take;
            received = received[take..];
        }

        return null;
    }

    private string? TakeFrameHeader(ref ReadOnlySpan<byte> received, IBufferWriter<byte> output)
    {
        if (frameHeaderFill == 0 && received[0] == (byte)'A')
        {
            // "AMQP" and a version: not a frame, and the broker closes the connection after it. The client reports it.
            notFrames = true;
            return null;
        }

        var take = Math.Min(FrameHeaderSize - frameHeaderFill, received.Length);
        received[..take].CopyTo(frameHeader.AsSpan(frameHeaderFill));
        output.Write(received[..take]);
        received = received[take..];
        frameHeaderFill += take;
        if (frameHeaderFill < FrameHeaderSize)
        {
            return null;
        }

        frameHeaderFill = 0;
        frameType = frameHeader[0];
        channel = BinaryPrimitives.ReadUInt16BigEndian(frameHeader.AsSpan(1));
        var payloadSize = BinaryPrimitives.ReadUInt32BigEndian(frameHeader.AsSpan(3));
        frameRemaining = payloadSize + 1L;
        heldSize = heldFill = 0;
        methodWanted = methodFill = 0;
        if (frameType == MethodFrame)
        {
            methodWanted = (int)Math.Min(payloadSize, DeliverHeadSize);
            if (methodWanted == 0)
            {
                deliveries[channel] = null;
            }
        }
        else if (frameType == ContentHeaderFrame && payloadSize >= ContentHeaderPrelude)
        {
            if (payloadSize > MaxHeld)
            {
                return $"a content header of {payloadSize} bytes, more than the {MaxHeld} this connection checks";
            }

            heldSize = (int)payloadSize;
            if (held.Length < heldSize)
            {
                held = new byte[Math.Max(heldSize, held.Length * 2)];
            }
        }

        return null;
    }

    /// <summary>The whole content header is here: checks it, defuses it when the client could not read it, passes it on.</summary>
    private void Release(IBufferWriter<byte> output)
    {
        var header = held.AsSpan(0, heldSize);
        if (ClientUnreadableHeader.Problem(header, scratch) is { } problem)
        {
            // No property flags: the client reads no properties, and ignores the bytes that held them.
            header[FlagsOffset] = 0;
            header[FlagsOffset + 1] = 0;
            if (deliveries.GetValueOrDefault(channel) is { } deliveryTag)
            {
                unreadable.Add(channel, deliveryTag, problem);
            }
        }

        deliveries[channel] = null;
        output.Write(header);
    }

    /// <summary>The delivery tag of a basic.deliver method frame's start, or null for any other method.</summary>
    private static ulong? DeliveryTag(ReadOnlySpan<byte> method)
    {
        if (method.Length < 5 || BinaryPrimitives.ReadUInt16BigEndian(method) != BasicClass || BinaryPrimitives.ReadUInt16BigEndian(method[2..]) != DeliverMethod)
        {
            return null;
        }

        var tagAt = 5 + method[4];
        return method.Length >= tagAt + 8 ? BinaryPrimitives.ReadUInt64BigEndian(method[tagAt..]) : null;
    }
}
