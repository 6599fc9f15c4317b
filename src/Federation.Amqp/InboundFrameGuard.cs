using System.Buffers.Binary;

namespace Federation.Amqp;

/// <summary>
/// Follows the AMQP frames a broker sends on one connection, as raw bytes before RabbitMQ.Client parses them, and checks
/// each content header with <see cref="ClientUnreadableHeader"/>.
/// </summary>
/// <remarks>
/// <para>Why before the client: a header nested a few thousand levels deep (RabbitMQ accepts it) overflows the client's
/// recursive reader, and a stack overflow ends the process. Seen here first, the connection fails instead with the
/// protocol error the client raises for any header it cannot read (<see cref="GuardedNetworkStream"/>), and
/// <see cref="UnreadableMessageRemoval"/> removes the message from its queue as it does for those. Subject connections
/// use <see cref="InboundFrameDefuser"/> instead, which keeps the connection.</para>
/// <para>Cheap on the hot path: frame headers are counted through; only a content header's payload is looked at, in the
/// read buffer itself when a read holds it whole (it almost always does: it is a few hundred bytes), else copied into a
/// buffer of the guard's own until complete (not pooled: the connection may be disposed while its reader still runs). One reader at a time, as a connection has.</para>
/// </remarks>
internal sealed class InboundFrameGuard
{
    private const int FrameHeaderSize = 7;
    private const byte ContentHeaderFrame = 2;

    // The class id, weight, body size and first property flags come before any property.
    private const int ContentHeaderPrelude = 14;

    private readonly byte[] frameHeader = new byte[FrameHeaderSize];
    private readonly ClientUnreadableHeader.Scratch scratch = new();
    private int frameHeaderFill;

    // Bytes of the current frame still to come: payload and frame-end octet.
    private long frameRemaining;

    // The current content header's payload when it spans reads.
    private byte[]? pending;
    private int pendingSize;
    private int pendingFill;
    private bool inContentHeader;

    // The broker answered the protocol header with its own (a version it does not speak): no frames follow.
    private bool notFrames;

    /// <summary>
    /// Takes the next <paramref name="received"/> bytes of the connection. Returns why the client could not read a
    /// content header these bytes complete, or null.
    /// </summary>
    public string? Inspect(ReadOnlySpan<byte> received)
    {
        while (!received.IsEmpty && !notFrames)
        {
            if (frameRemaining == 0)
            {
                received = TakeFrameHeader(received);
                continue;
            }

            var take = (int)Math.Min(frameRemaining, received.Length);
            if (inContentHeader && TakeContentHeader(received[..take]) is { } problem)
            {
                return problem;
            }

            frameRemaining -= take;
            received = received[take..];
        }

        return null;
    }

    private ReadOnlySpan<byte> TakeFrameHeader(ReadOnlySpan<byte> received)
    {
        if (frameHeaderFill == 0 && received[0] == (byte)'A')
        {
            // "AMQP" and a version: not a frame, and the broker closes the connection after it. The client reports it.
            notFrames = true;
            return received;
        }

        var take = Math.Min(FrameHeaderSize - frameHeaderFill, received.Length);
        received[..take].CopyTo(frameHeader.AsSpan(frameHeaderFill));
        frameHeaderFill += take;
        if (frameHeaderFill == FrameHeaderSize)
        {
            frameHeaderFill = 0;
            var payloadSize = BinaryPrimitives.ReadUInt32BigEndian(frameHeader.AsSpan(3));
            frameRemaining = payloadSize + 1L;
            inContentHeader = frameHeader[0] == ContentHeaderFrame && payloadSize is >= ContentHeaderPrelude and <= int.MaxValue;
            pendingSize = inContentHeader ? (int)payloadSize : 0;
            pendingFill = 0;
        }

        return received[take..];
    }

    /// <summary>Takes bytes of a content header frame (payload, then its frame-end octet); checks the payload once whole.</summary>
    private string? TakeContentHeader(ReadOnlySpan<byte> bytes)
    {
        var payloadPart = bytes[..Math.Min(bytes.Length, pendingSize - pendingFill)];
        if (pendingFill == 0 && payloadPart.Length == pendingSize)
        {
            // The whole payload in this read: check it where it is.
            inContentHeader = false;
            return ClientUnreadableHeader.Problem(payloadPart, scratch);
        }

        if (pending is null || pending.Length < pendingSize)
        {
            pending = new byte[pendingSize];
        }

        payloadPart.CopyTo(pending.AsSpan(pendingFill));
        pendingFill += payloadPart.Length;
        if (pendingFill < pendingSize)
        {
            return null;
        }

        inContentHeader = false;
        return ClientUnreadableHeader.Problem(pending.AsSpan(0, pendingSize), scratch);
    }
}
