using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Federation.Nats.Client;

namespace Federation.Nats.Protocol;

/// <summary>
/// Incremental parser of server operations. <see cref="TryParse"/> is a pure function of the buffered bytes: it either
/// returns one complete operation and slices it off the buffer, returns false ("need more data") leaving the buffer
/// untouched, or throws <see cref="NatsProtocolException"/>. Every successful call consumes at least one byte, so a
/// caller's loop cannot spin, and no other exception escapes for any input.
/// </summary>
internal sealed class NatsParser
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private long _maxPayload = NatsProtocol.DefaultMaxPayload + NatsProtocol.PayloadSlack;

    public NatsParser(int maxControlLine = NatsProtocol.DefaultMaxControlLine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxControlLine, 16);
        MaxControlLine = maxControlLine;
    }

    /// <summary>Longest control line accepted (bytes before CRLF).</summary>
    public int MaxControlLine { get; }

    /// <summary>Largest message (headers + payload) accepted; set from INFO's max_payload plus slack, capped.</summary>
    public long MaxPayload
    {
        get => _maxPayload;
        set => _maxPayload = Math.Clamp(value, 0, NatsProtocol.MaxPayloadHardCap);
    }

    /// <summary>Sets <see cref="MaxPayload"/> from the server's announced max_payload.</summary>
    public void ApplyServerMaxPayload(long maxPayload) =>
        MaxPayload = (maxPayload > 0 ? maxPayload : NatsProtocol.DefaultMaxPayload) + NatsProtocol.PayloadSlack;

    public bool TryParse(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out ServerOp? op)
    {
        op = null;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> lineSeq, (byte)'\n'))
        {
            if (buffer.Length > MaxControlLine + 1)
            {
                throw new NatsProtocolException($"Control line exceeds {MaxControlLine} bytes.");
            }

            return false;
        }

        if (lineSeq.Length > MaxControlLine + 1)
        {
            throw new NatsProtocolException($"Control line exceeds {MaxControlLine} bytes.");
        }

        var lineLength = (int)lineSeq.Length;
        byte[]? rented = null;
        Span<byte> lineBuffer = lineLength <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(lineLength));
        try
        {
            lineSeq.CopyTo(lineBuffer);
            var line = lineBuffer[..lineLength];
            if (line.Length == 0 || line[^1] != (byte)'\r')
            {
                throw new NatsProtocolException("Control line is not terminated by CRLF.");
            }

            line = line[..^1];
            var controlSize = lineLength + 1;
            var verbEnd = line.IndexOfAny(" \t"u8);
            var verb = verbEnd < 0 ? line : line[..verbEnd];
            var args = verbEnd < 0 ? [] : line[(verbEnd + 1)..];

            if (Is(verb, "MSG"u8))
            {
                return TryParseMsg(ref buffer, ref reader, args, controlSize, headers: false, out op);
            }

            if (Is(verb, "HMSG"u8))
            {
                return TryParseMsg(ref buffer, ref reader, args, controlSize, headers: true, out op);
            }

            if (Is(verb, "PING"u8))
            {
                RequireNoArgs(args, "PING");
                op = ServerOp.Ping;
            }
            else if (Is(verb, "PONG"u8))
            {
                RequireNoArgs(args, "PONG");
                op = ServerOp.Pong;
            }
            else if (Is(verb, "+OK"u8))
            {
                RequireNoArgs(args, "+OK");
                op = ServerOp.Ok;
            }
            else if (Is(verb, "-ERR"u8))
            {
                var text = args.Trim(" \t"u8);
                if (text.Length >= 2 && text[0] == (byte)'\'' && text[^1] == (byte)'\'')
                {
                    text = text[1..^1];
                }

                op = new ServerOp(ServerOpKind.Err) { Text = Utf8.GetString(text), WireSize = controlSize };
            }
            else if (Is(verb, "INFO"u8))
            {
                var json = args.Trim(" \t"u8);
                if (json.Length == 0)
                {
                    throw new NatsProtocolException("INFO without a JSON body.");
                }

                op = new ServerOp(ServerOpKind.Info) { Text = Utf8.GetString(json), WireSize = controlSize };
            }
            else
            {
                throw new NatsProtocolException("Unknown protocol operation.");
            }

            buffer = buffer.Slice(reader.Position);
            return true;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private bool TryParseMsg(ref ReadOnlySequence<byte> buffer, ref SequenceReader<byte> reader, scoped ReadOnlySpan<byte> args, int controlSize, bool headers, out ServerOp? op)
    {
        op = null;
        Span<Range> ranges = stackalloc Range[6];
        var count = Split(args, ranges);
        var min = headers ? 4 : 3;
        if (count < min || count > min + 1)
        {
            throw new NatsProtocolException(headers ? "HMSG needs: subject sid [reply-to] #header-bytes #total-bytes." : "MSG needs: subject sid [reply-to] #bytes.");
        }

        var subject = args[ranges[0]];
        var sid = ParseNumber(args[ranges[1]], "sid");
        var hasReply = count == min + 1;
        long headerBytes = 0;
        long totalBytes;
        if (headers)
        {
            headerBytes = ParseNumber(args[ranges[count - 2]], "header size");
            totalBytes = ParseNumber(args[ranges[count - 1]], "total size");
            if (headerBytes > totalBytes)
            {
                throw new NatsProtocolException("HMSG header size exceeds its total size.");
            }

            if (headerBytes < 12)
            {
                throw new NatsProtocolException("HMSG header block is too short.");
            }
        }
        else
        {
            totalBytes = ParseNumber(args[ranges[count - 1]], "payload size");
        }

        if (totalBytes > MaxPayload)
        {
            throw new NatsProtocolException($"Message of {totalBytes} bytes exceeds the accepted maximum of {MaxPayload} bytes.");
        }

        if (reader.Remaining < totalBytes + 2)
        {
            return false; // need more data; the buffer is left as it was
        }

        var body = reader.UnreadSequence.Slice(0, totalBytes);
        reader.Advance(totalBytes);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new NatsProtocolException("Message payload is not followed by CRLF.");
        }

        NatsHeaders? parsedHeaders = null;
        if (headers)
        {
            var block = body.Slice(0, headerBytes);
            parsedHeaders = block.IsSingleSegment ? HeaderCodec.Parse(block.FirstSpan) : HeaderCodec.Parse(block.ToArray());
            body = body.Slice(headerBytes);
        }

        op = new ServerOp(headers ? ServerOpKind.HMsg : ServerOpKind.Msg)
        {
            Subject = Utf8.GetString(subject),
            Sid = sid,
            ReplyTo = hasReply ? Utf8.GetString(args[ranges[2]]) : null,
            Headers = parsedHeaders,
            Payload = body.ToArray(),
            WireSize = controlSize + (int)totalBytes + 2,
        };
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool Is(ReadOnlySpan<byte> verb, ReadOnlySpan<byte> expected)
    {
        if (verb.Length != expected.Length)
        {
            return false;
        }

        for (var i = 0; i < verb.Length; i++)
        {
            var b = verb[i];
            if (b is >= (byte)'a' and <= (byte)'z')
            {
                b -= 32;
            }

            if (b != expected[i])
            {
                return false;
            }
        }

        return true;
    }

    private static void RequireNoArgs(ReadOnlySpan<byte> args, string verb)
    {
        if (args.Trim(" \t"u8).Length != 0)
        {
            throw new NatsProtocolException($"{verb} takes no arguments.");
        }
    }

    private static long ParseNumber(ReadOnlySpan<byte> text, string what)
    {
        if (text.Length is 0 or > 18)
        {
            throw new NatsProtocolException($"Invalid {what}.");
        }

        foreach (var b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                throw new NatsProtocolException($"Invalid {what}.");
            }
        }

        return Utf8Parser.TryParse(text, out long value, out _) ? value : throw new NatsProtocolException($"Invalid {what}.");
    }

    /// <summary>Splits on runs of spaces/tabs; returns the number of fields (at most ranges.Length; more fields → ranges.Length + 1).</summary>
    private static int Split(ReadOnlySpan<byte> args, Span<Range> ranges)
    {
        var count = 0;
        var i = 0;
        while (i < args.Length)
        {
            while (i < args.Length && args[i] is (byte)' ' or (byte)'\t')
            {
                i++;
            }

            if (i == args.Length)
            {
                break;
            }

            var start = i;
            while (i < args.Length && args[i] is not ((byte)' ' or (byte)'\t'))
            {
                i++;
            }

            if (count == ranges.Length)
            {
                return count + 1;
            }

            ranges[count++] = new Range(start, i);
        }

        return count;
    }
}
