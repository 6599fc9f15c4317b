using System.Buffers;
using System.Text;
using Microsoft.Extensions.Primitives;
using NATS.Client.Core;

namespace Federation.Nats.Messaging;

/// <summary>
/// Maps the subject SPI's ordered header fields to <see cref="NatsHeaders"/> and back. Every value of a name is kept, in order;
/// names keep the spelling first used and the order of their first appearance. NATS groups the values of a name together,
/// so fields interleaved by name (<c>a, b, a</c>) come back grouped (<c>a, a, b</c>).
/// </summary>
internal static class NatsSubjectHeaders
{
    /// <summary>Writes <paramref name="fields"/> into <paramref name="headers"/> (emptied first), grouping the values of a name.</summary>
    public static void Write(IReadOnlyList<KeyValuePair<string, string>> fields, NatsHeaders headers)
    {
        headers.Clear();
        for (var i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            headers[field.Key] = headers.TryGetValue(field.Key, out var earlier) ? StringValues.Concat(earlier, field.Value) : new StringValues(field.Value);
        }
    }

    /// <summary>
    /// The fields of a raw NATS header block (<c>NATS/1.0[ code[ text]]</c>, then <c>Name: value</c> lines), read straight
    /// into the ordered field list: the same fields as the client's <see cref="NatsHeaderParser"/> would give, without the
    /// <see cref="NatsHeaders"/> dictionary. Values are trimmed of spaces and
    /// tabs as the client does; names group case-insensitively under their first spelling, in the order of first appearance.
    /// </summary>
    /// <returns>The fields, or null when the block has none (a status-only block counts as none).</returns>
    /// <exception cref="FormatException">The block is not a NATS/1.0 header block.</exception>
    public static IReadOnlyList<KeyValuePair<string, string>>? Parse(ReadOnlySequence<byte> block, Encoding encoding)
    {
        ReadOnlySpan<byte> span;
        byte[]? rented = null;
        if (block.IsSingleSegment)
        {
            span = block.FirstSpan;
        }
        else
        {
            // A header block split across two read buffers: rare, copy it once.
            rented = ArrayPool<byte>.Shared.Rent((int)block.Length);
            block.CopyTo(rented);
            span = rented.AsSpan(0, (int)block.Length);
        }

        try
        {
            return Parse(span, encoding);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static List<KeyValuePair<string, string>>? Parse(ReadOnlySpan<byte> block, Encoding encoding)
    {
        var lineEnd = block.IndexOf("\r\n"u8);
        if (lineEnd < 0 || !block.StartsWith("NATS/1.0"u8) || (lineEnd > 8 && block[8] != (byte)' '))
        {
            throw new FormatException("Protocol error: the header block does not start with a NATS/1.0 version line.");
        }

        List<KeyValuePair<string, string>>? fields = null;
        var rest = block[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                throw new FormatException("Protocol error: a header line does not end with CRLF.");
            }

            var line = rest[..lineEnd];
            rest = rest[(lineEnd + 2)..];
            if (line.IsEmpty)
            {
                continue;
            }

            var colon = line.IndexOfAny((byte)':', (byte)' ', (byte)'\t');
            if (colon <= 0 || line[colon] != (byte)':')
            {
                throw new FormatException("Protocol error: a header line has no 'Name:' before its value.");
            }

            var value = line[(colon + 1)..].Trim(" \t"u8);
            (fields ??= new List<KeyValuePair<string, string>>(8)).Add(new(encoding.GetString(line[..colon]), encoding.GetString(value)));
        }

        return fields is null ? null : NeedsGrouping(fields) ? Grouped(fields) : fields;
    }

    /// <summary>True when a name repeats apart from its first run, or in another spelling: NatsHeaders would group those.</summary>
    private static bool NeedsGrouping(List<KeyValuePair<string, string>> fields)
    {
        for (var i = 1; i < fields.Count; i++)
        {
            var name = fields[i].Key;
            if (string.Equals(name, fields[i - 1].Key, StringComparison.OrdinalIgnoreCase))
            {
                if (!string.Equals(name, fields[i - 1].Key, StringComparison.Ordinal))
                {
                    return true;
                }

                continue;
            }

            for (var j = 0; j < i - 1; j++)
            {
                if (string.Equals(name, fields[j].Key, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static List<KeyValuePair<string, string>> Grouped(List<KeyValuePair<string, string>> fields)
    {
        var grouped = new List<KeyValuePair<string, string>>(fields.Count);
        var taken = new bool[fields.Count];
        for (var i = 0; i < fields.Count; i++)
        {
            if (taken[i])
            {
                continue;
            }

            var name = fields[i].Key;
            for (var j = i; j < fields.Count; j++)
            {
                if (!taken[j] && string.Equals(name, fields[j].Key, StringComparison.OrdinalIgnoreCase))
                {
                    taken[j] = true;
                    grouped.Add(new(name, fields[j].Value));
                }
            }
        }

        return grouped;
    }
}
