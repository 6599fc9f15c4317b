using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Federation.Nats.Client;

namespace Federation.Nats.Protocol;

/// <summary>Reads and writes the <c>NATS/1.0</c> header block (including its terminating blank line).</summary>
internal static class HeaderCodec
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>Throws <see cref="ArgumentException"/> when a key or value cannot be put on the wire.</summary>
    public static void Validate(NatsHeaders headers)
    {
        if (headers.StatusDescription is { } description && (description.Contains('\r', StringComparison.Ordinal) || description.Contains('\n', StringComparison.Ordinal)))
        {
            throw new ArgumentException("A header status description must not contain CR or LF.", nameof(headers));
        }

        if (headers.StatusCode is < 0 or > 999)
        {
            throw new ArgumentException($"Header status code {headers.StatusCode} is not a 3-digit code.", nameof(headers));
        }

        foreach (var (key, values) in headers.Entries)
        {
            if (key.Length == 0)
            {
                throw new ArgumentException("A header key must not be empty.", nameof(headers));
            }

            foreach (var c in key)
            {
                if (c <= ' ' || c >= 127 || c == ':')
                {
                    throw new ArgumentException($"Header key '{key}' contains a character not allowed in a NATS header key (control, space, ':' or non-ASCII).", nameof(headers));
                }
            }

            foreach (var value in values)
            {
                if (value.Contains('\r', StringComparison.Ordinal) || value.Contains('\n', StringComparison.Ordinal))
                {
                    throw new ArgumentException($"The value of header '{key}' contains CR or LF.", nameof(headers));
                }
            }
        }
    }

    /// <summary>The exact number of bytes <see cref="Write"/> produces.</summary>
    public static int GetLength(NatsHeaders headers)
    {
        var length = 8 + 2; // NATS/1.0 CRLF
        if (headers.StatusCode != 0)
        {
            length += 4;
            if (!string.IsNullOrEmpty(headers.StatusDescription))
            {
                length += 1 + Utf8.GetByteCount(headers.StatusDescription);
            }
        }

        foreach (var (key, values) in headers.Entries)
        {
            foreach (var value in values)
            {
                length += key.Length + 2 + Utf8.GetByteCount(value) + 2;
            }
        }

        return length + 2;
    }

    /// <summary>Writes the block; returns the number of bytes written.</summary>
    public static int Write(IBufferWriter<byte> writer, NatsHeaders headers)
    {
        var length = GetLength(headers);
        var span = writer.GetSpan(length);
        var pos = 0;
        "NATS/1.0"u8.CopyTo(span);
        pos += 8;
        if (headers.StatusCode != 0)
        {
            span[pos++] = (byte)' ';
            Utf8Formatter.TryFormat(headers.StatusCode, span[pos..], out _, new StandardFormat('D', 3));
            pos += 3;
            if (!string.IsNullOrEmpty(headers.StatusDescription))
            {
                span[pos++] = (byte)' ';
                pos += Utf8.GetBytes(headers.StatusDescription, span[pos..]);
            }
        }

        span[pos++] = (byte)'\r';
        span[pos++] = (byte)'\n';
        foreach (var (key, values) in headers.Entries)
        {
            foreach (var value in values)
            {
                pos += Encoding.ASCII.GetBytes(key, span[pos..]);
                span[pos++] = (byte)':';
                span[pos++] = (byte)' ';
                pos += Utf8.GetBytes(value, span[pos..]);
                span[pos++] = (byte)'\r';
                span[pos++] = (byte)'\n';
            }
        }

        span[pos++] = (byte)'\r';
        span[pos++] = (byte)'\n';
        writer.Advance(pos);
        return pos;
    }

    /// <summary>Parses a complete header block; throws <see cref="NatsProtocolException"/> when it is malformed.</summary>
    public static NatsHeaders Parse(ReadOnlySpan<byte> block)
    {
        if (!block.StartsWith("NATS/1.0"u8))
        {
            throw new NatsProtocolException("Header block does not start with NATS/1.0.");
        }

        if (block.Length < 12 || !block.EndsWith("\r\n\r\n"u8))
        {
            throw new NatsProtocolException("Header block is not terminated by an empty line.");
        }

        var headers = new NatsHeaders();
        var firstEnd = block.IndexOf("\r\n"u8);
        var status = block[8..firstEnd];
        if (status.Length > 0)
        {
            if (status[0] is not ((byte)' ' or (byte)'\t'))
            {
                throw new NatsProtocolException("Malformed header version line.");
            }

            status = status.TrimStart(" \t"u8);
            var codeLength = status.IndexOfAny(" \t"u8);
            var code = codeLength < 0 ? status : status[..codeLength];
            if (code.Length > 0)
            {
                if (code.Length != 3 || !Utf8Parser.TryParse(code, out int value, out var consumed) || consumed != 3 || value < 0)
                {
                    throw new NatsProtocolException("Header status code is not a 3-digit number.");
                }

                headers.StatusCode = value;
                if (codeLength >= 0)
                {
                    var description = status[codeLength..].Trim(" \t"u8);
                    if (description.Length > 0)
                    {
                        headers.StatusDescription = Utf8.GetString(description);
                    }
                }
            }
        }

        var rest = block[(firstEnd + 2)..^2]; // drop the terminating empty line
        while (rest.Length > 0)
        {
            var end = rest.IndexOf("\r\n"u8);
            if (end < 0)
            {
                throw new NatsProtocolException("Header line is not terminated by CRLF.");
            }

            var line = rest[..end];
            rest = rest[(end + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                throw new NatsProtocolException("Header line has no key.");
            }

            var key = line[..colon];
            foreach (var b in key)
            {
                if (b <= (byte)' ' || b >= 127)
                {
                    throw new NatsProtocolException("Header key contains an invalid byte.");
                }
            }

            headers.Add(Encoding.ASCII.GetString(key), Utf8.GetString(line[(colon + 1)..].Trim(" \t"u8)));
        }

        return headers;
    }
}
