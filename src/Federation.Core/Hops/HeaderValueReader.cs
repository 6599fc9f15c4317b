using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Federation.Core.Hops;

/// <summary>
/// Tolerant, allocation-free reads of header values as other adapters may hand them in: arrays as any
/// <see cref="IReadOnlyList{T}"/> or <see cref="IList{T}"/> of <see cref="object"/>, tables as any
/// <see cref="IReadOnlyDictionary{TKey,TValue}"/> or <see cref="IDictionary{TKey,TValue}"/>, and text as
/// <see cref="string"/> or UTF-8 <see cref="byte"/>[] (what RabbitMQ.Client delivers for AMQP longstr).
/// </summary>
internal static class HeaderValueReader
{
    /// <summary>Whether <paramref name="value"/> is an array, and how many elements it has.</summary>
    public static bool TryGetArrayCount([NotNullWhen(true)] object? value, out int count)
    {
        // List<object?> first: it is the normalised representation, and a direct type test is the cheapest.
        count = value switch
        {
            List<object?> list => list.Count,
            IReadOnlyList<object?> list => list.Count,
            IList<object?> list => list.Count,
            _ => -1,
        };
        return count >= 0;
    }

    /// <summary>The element at <paramref name="index"/> of an array accepted by <see cref="TryGetArrayCount"/>.</summary>
    public static object? ElementAt(object array, int index) => array switch
    {
        List<object?> list => list[index],
        IReadOnlyList<object?> list => list[index],
        IList<object?> list => list[index],
        _ => throw new ArgumentException("Not a header array.", nameof(array)),
    };

    /// <summary>
    /// Whether any table in <paramref name="array"/> has both cluster-name == <paramref name="clusterName"/> and
    /// vhost == <paramref name="virtualHost"/>: the plugin's <c>already_seen</c>. Elements that are not tables never match,
    /// and a null <paramref name="clusterName"/> matches nothing, as the plugin compares against a present longstr.
    /// </summary>
    public static bool ContainsOrigin(object array, string? clusterName, string virtualHost)
    {
        if (clusterName is null)
        {
            return false;
        }

        if (array is List<object?> list)
        {
            // The struct enumerator keeps the common path free of allocations and interface dispatch.
            foreach (var element in list)
            {
                if (IsOrigin(element, clusterName, virtualHost))
                {
                    return true;
                }
            }

            return false;
        }

        TryGetArrayCount(array, out var count);
        for (var i = 0; i < count; i++)
        {
            if (IsOrigin(ElementAt(array, i), clusterName, virtualHost))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Looks <paramref name="key"/> up in <paramref name="table"/> if it is a table; false for non-tables.</summary>
    public static bool TryGetField(object? table, string key, out object? value)
    {
        switch (table)
        {
            case Dictionary<string, object?> dictionary:
                return dictionary.TryGetValue(key, out value);
            case IReadOnlyDictionary<string, object?> dictionary:
                return dictionary.TryGetValue(key, out value);
            case IDictionary<string, object?> dictionary:
                return dictionary.TryGetValue(key, out value);
            default:
                value = null;
                return false;
        }
    }

    /// <summary>Whether <paramref name="value"/> is text equal (ordinal) to <paramref name="text"/>, without decoding into a new string.</summary>
    public static bool TextEquals(object? value, string text) => value switch
    {
        string s => string.Equals(s, text, StringComparison.Ordinal),
        byte[] utf8 => Utf8Equals(utf8, text),
        _ => false,
    };

    /// <summary>Reads text from a <see cref="string"/> or a UTF-8 <see cref="byte"/>[].</summary>
    public static bool TryGetText(object? value, [NotNullWhen(true)] out string? text)
    {
        text = value switch
        {
            string s => s,
            byte[] utf8 => Encoding.UTF8.GetString(utf8),
            _ => null,
        };
        return text is not null;
    }

    /// <summary>Reads an integer of any CLR integer type, or one written as decimal text (string or UTF-8 bytes).</summary>
    public static bool TryGetInteger(object? value, out long integer)
    {
        switch (value)
        {
            case sbyte v: integer = v; return true;
            case byte v: integer = v; return true;
            case short v: integer = v; return true;
            case ushort v: integer = v; return true;
            case int v: integer = v; return true;
            case uint v: integer = v; return true;
            case long v: integer = v; return true;
            case ulong v: integer = v > long.MaxValue ? long.MaxValue : (long)v; return true;
            case string s: return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out integer);
            case byte[] utf8: return Utf8Parser.TryParse(utf8, out integer, out var consumed) && consumed == utf8.Length;
            default: integer = 0; return false;
        }
    }

    private static bool IsOrigin(object? entry, string clusterName, string virtualHost) =>
        TryGetField(entry, TrailFieldNames.ClusterName, out var cluster) && TextEquals(cluster, clusterName)
        && TryGetField(entry, TrailFieldNames.VirtualHost, out var vhost) && TextEquals(vhost, virtualHost);

    // Compares scalar by scalar so that a byte[] header never has to be decoded into a string on the hot path.
    // Invalid UTF-8 decodes to U+FFFD, as Encoding.UTF8.GetString would, so this agrees with TryGetText.
    private static bool Utf8Equals(ReadOnlySpan<byte> utf8, ReadOnlySpan<char> text)
    {
        while (!utf8.IsEmpty && !text.IsEmpty)
        {
            Rune.DecodeFromUtf8(utf8, out var left, out var leftLength);
            Rune.DecodeFromUtf16(text, out var right, out var rightLength);
            if (left != right)
            {
                return false;
            }

            utf8 = utf8[leftLength..];
            text = text[rightLength..];
        }

        return utf8.IsEmpty && text.IsEmpty;
    }
}
