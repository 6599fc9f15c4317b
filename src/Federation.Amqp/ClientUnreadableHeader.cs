using System.Buffers.Binary;
using System.Globalization;

namespace Federation.Amqp;

/// <summary>
/// Says whether RabbitMQ.Client 7.2.2 can read a message's content header, by walking its header table as the client's
/// reader (<c>WireFormatting.ReadFieldValue</c>) does and stopping where the client throws: a decimal with a scale above
/// 28 (.NET's decimal cannot hold it; AMQP allows 255), a field type the client does not know, or a table that runs past
/// its frame. The client throws those as a protocol error while it parses the delivery, before any consumer sees it, and
/// closes its whole connection (502).
/// </summary>
/// <remarks>
/// Iterative, not recursive: a header may nest tables and arrays thousands deep within one frame.
/// </remarks>
internal static class ClientUnreadableHeader
{
    private const int MaxScale = 28;
    private const int HeadersFlag = 0x2000;
    private const int ContentTypeFlag = 0x8000;
    private const int ContentEncodingFlag = 0x4000;

    /// <summary>Why the client cannot read <paramref name="contentHeader"/> (the payload of a content header frame), or null when it can.</summary>
    public static string? Problem(ReadOnlySpan<byte> contentHeader)
    {
        try
        {
            return Walk(contentHeader);
        }
        catch (Exception error) when (error is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return "a header table that runs past the end of its frame";
        }
    }

    private static string? Walk(ReadOnlySpan<byte> header)
    {
        // class-id, weight, body size, then the property flags (the client reads the first two bytes of them).
        var flags = BinaryPrimitives.ReadUInt16BigEndian(header[12..]);
        var position = 14;
        if ((flags & HeadersFlag) == 0)
        {
            return null;
        }

        // Properties come in flag order; only the two short strings before the headers need skipping.
        if ((flags & ContentTypeFlag) != 0)
        {
            position += 1 + header[position];
        }

        if ((flags & ContentEncodingFlag) != 0)
        {
            position += 1 + header[position];
        }

        return Table(header, position);
    }

    private static string? Table(ReadOnlySpan<byte> span, int position)
    {
        var ends = new Stack<(int End, bool IsTable)>();
        var length = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
        position += 4;
        ends.Push((Bounded(span, position, length), true));
        var topKey = string.Empty;
        while (ends.Count > 0)
        {
            var (end, isTable) = ends.Peek();
            // At or past its end: the client's readers loop while fewer bytes than the length were read and never check a
            // nested value against its container's length, so an overrun is no error to it, and none here (anything this
            // walk calls unreadable is removed from the queue).
            if (position >= end)
            {
                ends.Pop();
                continue;
            }

            if (isTable)
            {
                int keyLength = span[position];
                if (ends.Count == 1)
                {
                    topKey = PrintableWireText.Escape(span.Slice(position + 1, keyLength));
                }

                position += 1 + keyLength;
            }

            var type = (char)span[position++];
            switch (type)
            {
                case 'V':
                    break;
                case 't' or 'b' or 'B':
                    position += 1;
                    break;
                case 's' or 'u':
                    position += 2;
                    break;
                case 'I' or 'i' or 'f':
                    position += 4;
                    break;
                case 'l' or 'd' or 'T':
                    position += 8;
                    break;
                case 'D':
                    int scale = span[position];
                    if (scale > MaxScale)
                    {
                        return string.Create(CultureInfo.InvariantCulture, $"header '{topKey}' holds an AMQP decimal of scale {scale}, above the {MaxScale} .NET's decimal can hold");
                    }

                    position += 5;
                    break;
                case 'S' or 'x':
                    position = Bounded(span, position + 4, BinaryPrimitives.ReadUInt32BigEndian(span[position..]));
                    break;
                case 'F' or 'A':
                    var nested = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
                    position += 4;
                    ends.Push((Bounded(span, position, nested), type == 'F'));
                    break;
                default:
                    return string.Create(CultureInfo.InvariantCulture, $"header '{topKey}' holds a field of type '{PrintableWireText.Escape([(byte)type])}' (0x{(int)type:X2}), which the client does not know");
            }
        }

        return null;
    }

    /// <summary>The end of a field of <paramref name="length"/> bytes at <paramref name="start"/>, which must lie within the span.</summary>
    private static int Bounded(ReadOnlySpan<byte> span, int start, uint length) =>
        length <= (uint)(span.Length - start) ? start + (int)length : throw new ArgumentOutOfRangeException(nameof(length));
}
