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
    // Up to this many fields, a scan of the earlier names is cheaper than a set.
    private const int ScanLimit = 16;

    /// <summary>Writes <paramref name="fields"/> into <paramref name="headers"/> (emptied first), grouping the values of a name.</summary>
    public static void Write(IReadOnlyList<KeyValuePair<string, string>> fields, NatsHeaders headers)
    {
        headers.Clear();
        Dictionary<string, List<string>>? repeated = null;
        for (var i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            if (!headers.TryGetValue(field.Key, out var earlier))
            {
                headers[field.Key] = new StringValues(field.Value);
                continue;
            }

            // Concatenating StringValues copies every earlier value again: quadratic in a name's values (a long seen-by
            // trail from a hostile client). Collect a repeated name's values and set them once at the end.
            repeated ??= new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            if (!repeated.TryGetValue(field.Key, out var values))
            {
                // Until the end, a name in the headers has its first value only.
                repeated[field.Key] = values = [earlier[0] ?? string.Empty];
            }

            values.Add(field.Value);
        }

        if (repeated is not null)
        {
            foreach (var (name, values) in repeated)
            {
                headers[name] = new StringValues([.. values]);
            }
        }
    }

    /// <summary>
    /// The fields of a raw NATS header block (<c>NATS/1.0[ code[ text]]</c>, then <c>Name: value</c> lines), read straight
    /// into the ordered field list: the same fields as the client's <see cref="NatsHeaderParser"/> would give, without the
    /// <see cref="NatsHeaders"/> dictionary. Values are trimmed of spaces and
    /// tabs as the client does; names group case-insensitively under their first spelling, in the order of first appearance.
    /// </summary>
    /// <returns>The fields, or null when the block has none (a status-only block counts as none).</returns>
    /// <exception cref="FormatException">The block is not a NATS/1.0 header block, or not text in <paramref name="encoding"/>.</exception>
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
            (fields ??= new List<KeyValuePair<string, string>>(8)).Add(new(Text(line[..colon], encoding), Text(value, encoding)));
        }

        return fields is null ? null : NeedsGrouping(fields) ? Grouped(fields) : fields;
    }

    /// <summary>
    /// The text of a name or value. A strict <see cref="NatsOpts.HeaderEncoding"/> (the user's choice) throws
    /// <see cref="DecoderFallbackException"/>, an <see cref="ArgumentException"/>, for bytes it refuses: that is an
    /// unreadable block like any other, which the subscription drops and counts, not an exception on the client's read loop.
    /// </summary>
    private static string Text(ReadOnlySpan<byte> bytes, Encoding encoding)
    {
        try
        {
            return encoding.GetString(bytes);
        }
        catch (DecoderFallbackException error)
        {
            throw new FormatException($"Protocol error: a header line is not {encoding.WebName} text: {error.Message}", error);
        }
    }

    /// <summary>
    /// True when a name repeats apart from its first run, or in another spelling: NatsHeaders would group those. Linear in
    /// the number of fields (a hostile header block can hold a hundred thousand names): the names of finished runs go
    /// into a set, made only when a block has more than <see cref="ScanLimit"/> fields.
    /// </summary>
    private static bool NeedsGrouping(List<KeyValuePair<string, string>> fields)
    {
        HashSet<string>? finished = fields.Count > ScanLimit ? new HashSet<string>(StringComparer.OrdinalIgnoreCase) : null;
        for (var i = 1; i < fields.Count; i++)
        {
            var name = fields[i].Key;
            var previous = fields[i - 1].Key;
            if (string.Equals(name, previous, StringComparison.OrdinalIgnoreCase))
            {
                if (!string.Equals(name, previous, StringComparison.Ordinal))
                {
                    return true;
                }

                continue;
            }

            if (finished is not null)
            {
                finished.Add(previous);
                if (finished.Contains(name))
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

    /// <summary>The fields grouped by name (case-insensitively, under the first spelling), names in order of first appearance; linear.</summary>
    private static List<KeyValuePair<string, string>> Grouped(List<KeyValuePair<string, string>> fields)
    {
        var names = new List<string>();
        var values = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in fields)
        {
            if (!values.TryGetValue(name, out var list))
            {
                values[name] = list = [];
                names.Add(name);
            }

            list.Add(value);
        }

        var grouped = new List<KeyValuePair<string, string>>(fields.Count);
        foreach (var name in names)
        {
            foreach (var value in values[name])
            {
                grouped.Add(new(name, value));
            }
        }

        return grouped;
    }
}
