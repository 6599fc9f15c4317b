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
/// <para>Also refuses a header that nests tables and arrays deeper than <see cref="MaxNesting"/>. The client reads them
/// recursively, three stack frames a level, on a thread-pool thread (1.5 MiB of stack): some thousand levels, which a
/// 128 KiB frame holds easily, overflow the stack, and a stack overflow ends the whole process, which no catch can
/// stop. <see cref="InboundFrameGuard"/> therefore checks every content header before the client sees it.</para>
/// <para>Iterative, not recursive, for the same reason. Allocation-free for a header it can read, given its
/// <see cref="Scratch"/>: the guard runs it for every delivery.</para>
/// </remarks>
internal static class ClientUnreadableHeader
{
    /// <summary>
    /// How deep tables and arrays may nest in a header this library reads. RabbitMQ.Client 7.2.2 survived 6,000 levels
    /// and overflowed its stack at 20,000 here; no real header nests more than a handful, so the bound leaves a wide margin.
    /// </summary>
    public const int MaxNesting = 1_000;

    private const int MaxScale = 28;
    private const int HeadersFlag = 0x2000;
    private const int ContentTypeFlag = 0x8000;
    private const int ContentEncodingFlag = 0x4000;

    /// <summary>Why the client cannot read <paramref name="contentHeader"/> (the payload of a content header frame), or null when it can.</summary>
    public static string? Problem(ReadOnlySpan<byte> contentHeader)
    {
        var scratch = new Scratch();
        return Problem(contentHeader, scratch);
    }

    /// <summary>As <see cref="Problem(ReadOnlySpan{byte})"/>, reusing <paramref name="scratch"/> (one caller at a time).</summary>
    public static string? Problem(ReadOnlySpan<byte> contentHeader, Scratch scratch)
    {
        try
        {
            return Walk(contentHeader, scratch);
        }
        catch (Exception error) when (error is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return "a header table that runs past the end of its frame";
        }
    }

    private static string? Walk(ReadOnlySpan<byte> header, Scratch scratch)
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

        return Table(header, position, scratch);
    }

    private static string? Table(ReadOnlySpan<byte> span, int position, Scratch scratch)
    {
        // The open containers, innermost last: where each ends, and whether it is a table (keyed) or an array.
        var ends = scratch.Ends;
        var depth = 0;
        var length = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
        position += 4;
        ends[depth++] = Container(Bounded(span, position, length), isTable: true);

        // Where the top-level key being read starts: escaped for a message only when there is something to say.
        var topKey = -1;
        while (depth > 0)
        {
            var end = (int)(ends[depth - 1] >> 1);
            var isTable = (ends[depth - 1] & 1) != 0;
            // At or past its end: the client's readers loop while fewer bytes than the length were read and never check a
            // nested value against its container's length, so an overrun is no error to it, and none here (anything this
            // walk calls unreadable is removed from the queue).
            if (position >= end)
            {
                depth--;
                continue;
            }

            if (isTable)
            {
                int keyLength = span[position];
                if (depth == 1)
                {
                    topKey = position;
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
                        return string.Create(CultureInfo.InvariantCulture, $"header '{TopKey(span, topKey)}' holds an AMQP decimal of scale {scale}, above the {MaxScale} .NET's decimal can hold");
                    }

                    position += 5;
                    break;
                case 'S' or 'x':
                    position = Bounded(span, position + 4, BinaryPrimitives.ReadUInt32BigEndian(span[position..]));
                    break;
                case 'F' or 'A':
                    var nested = BinaryPrimitives.ReadUInt32BigEndian(span[position..]);
                    position += 4;
                    if (depth == MaxNesting)
                    {
                        return string.Create(CultureInfo.InvariantCulture,
                            $"header '{TopKey(span, topKey)}' nests tables and arrays more than {MaxNesting} deep, which RabbitMQ.Client reads recursively (a few thousand levels overflow its stack and end the process)");
                    }

                    ends[depth++] = Container(Bounded(span, position, nested), type == 'F');
                    break;
                default:
                    return string.Create(CultureInfo.InvariantCulture, $"header '{TopKey(span, topKey)}' holds a field of type '{PrintableWireText.Escape([(byte)type])}' (0x{(int)type:X2}), which the client does not know");
            }
        }

        return null;
    }

    private static long Container(int end, bool isTable) => ((long)end << 1) | (isTable ? 1L : 0L);

    private static string TopKey(ReadOnlySpan<byte> span, int at) => at < 0 ? string.Empty : PrintableWireText.Escape(span.Slice(at + 1, span[at]));

    /// <summary>The end of a field of <paramref name="length"/> bytes at <paramref name="start"/>, which must lie within the span.</summary>
    private static int Bounded(ReadOnlySpan<byte> span, int start, uint length) =>
        length <= (uint)(span.Length - start) ? start + (int)length : throw new ArgumentOutOfRangeException(nameof(length));

    /// <summary>The walk's stack of open containers, kept by a caller that checks many headers in turn.</summary>
    internal sealed class Scratch
    {
        /// <summary>One entry per open table or array: its end, shifted left once, and 1 for a table.</summary>
        public long[] Ends { get; } = new long[MaxNesting];
    }
}
