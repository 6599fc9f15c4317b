using System.Collections;
using Federation.Core.Hops;
using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>
/// Converts header and argument values between RabbitMQ.Client's field-table types and the normalised representation of
/// <see cref="Federation.Core.Transport.MessageProperties"/>. The client reads long strings as <c>byte[]</c>, binary as
/// <see cref="BinaryTableValue"/> and empty tables/arrays as <see langword="null"/>, so every value is converted at the boundary.
/// </summary>
/// <remarks>
/// Received values are kept exactly: long strings that are not UTF-8 as <see cref="NonUtf8String"/> (written back as
/// long strings), timestamps out of <see cref="DateTimeOffset"/>'s range as <see cref="UnrepresentableTimestamp"/>.
/// What the client itself loses cannot be restored here: it reads an empty table or array as void, keeps the last of
/// duplicate table keys, and decodes table keys (short strings) with U+FFFD for invalid UTF-8.
/// </remarks>
internal static class AmqpHeaders
{
    /// <summary>Converts a received table into normalised values; <see langword="null"/> stays <see langword="null"/>.</summary>
    public static Dictionary<string, object?>? FromAmqp(IDictionary<string, object?>? table)
    {
        if (table is null)
        {
            return null;
        }

        var result = new Dictionary<string, object?>(table.Count, StringComparer.Ordinal);
        if (table is Dictionary<string, object?> dictionary)
        {
            // What the client hands out: enumerated without boxing an enumerator.
            foreach (var (key, value) in dictionary)
            {
                result[key] = FromAmqpValue(value);
            }

            return result;
        }

        foreach (var (key, value) in table)
        {
            result[key] = FromAmqpValue(value);
        }

        return result;
    }

    /// <summary>
    /// Converts the headers of a received message (see <see cref="FromAmqp"/>). An <c>x-received-from</c> that arrives as
    /// void becomes the empty trail: the client reads an empty array as void, and an empty array is what a publisher
    /// sends (the plugin takes it as a valid, empty trail), while a void trail means nothing.
    /// </summary>
    public static Dictionary<string, object?>? FromAmqpMessageHeaders(IDictionary<string, object?>? table)
    {
        var headers = FromAmqp(table);
        if (headers is not null && headers.TryGetValue(HopHeaders.ReceivedFrom, out var trail) && trail is null)
        {
            headers[HopHeaders.ReceivedFrom] = new List<object?>();
        }

        return headers;
    }

    /// <summary>
    /// Converts one received value, keeping it exact: a long string that is not UTF-8 becomes a <see cref="NonUtf8String"/>,
    /// a timestamp out of <see cref="DateTimeOffset"/>'s range an <see cref="UnrepresentableTimestamp"/>.
    /// </summary>
    public static object? FromAmqpValue(object? value) => value switch
    {
        null => null,
        // The client hands us a fresh array per value, so it is kept rather than copied when it is not UTF-8.
        byte[] longString => NonUtf8String.FromOwnedBytes(longString),
        BinaryTableValue binary => binary.Bytes.ToArray(),
        AmqpTimestamp timestamp => UnrepresentableTimestamp.FromUnixSeconds(timestamp.UnixTime),
        IDictionary<string, object?> table => FromAmqp(table),
        IDictionary legacyTable => FromLegacyTable(legacyTable),
        IList array => FromAmqpList(array),
        _ => value,
    };

    /// <summary>Converts a table to send. Strings stay strings (they go out as longstr), so the types of <c>x-received-from</c> survive.</summary>
    public static Dictionary<string, object?>? ToAmqp(IEnumerable<KeyValuePair<string, object?>>? table)
    {
        if (table is null)
        {
            return null;
        }

        if (table is Dictionary<string, object?> dictionary)
        {
            // The common case (trail entries, headers): sized up front and enumerated without boxing an enumerator.
            var copy = new Dictionary<string, object?>(dictionary.Count, StringComparer.Ordinal);
            CopyToAmqp(dictionary, copy);
            return copy;
        }

        var result = table is IReadOnlyCollection<KeyValuePair<string, object?>> sized
            ? new Dictionary<string, object?>(sized.Count, StringComparer.Ordinal)
            : new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in table)
        {
            result[key] = ToAmqpValue(value);
        }

        return result;
    }

    /// <summary>
    /// Converts a table to send into <paramref name="target"/>, as <see cref="ToAmqp"/> does, without allocating the outer
    /// table. With <paramref name="trails"/>, an <c>x-received-from</c> trail equal to one sent before reuses its converted value.
    /// </summary>
    public static void CopyToAmqp(Dictionary<string, object?> table, Dictionary<string, object?> target, TrailConversionCache? trails = null)
    {
        foreach (var (key, value) in table)
        {
            target[key] = trails is not null && string.Equals(key, HopHeaders.ReceivedFrom, StringComparison.Ordinal)
                ? trails.Convert(value)
                : value is null && AmqpBrokerPreconditions.IsRoutingHeader(key)
                    ? new List<object?>()
                    : ToAmqpValue(value);
        }
    }

    /// <summary>Converts one value to send. Always copies containers, so the caller may change its own afterwards.</summary>
    public static object? ToAmqpValue(object? value) => value switch
    {
        null => null,
        string => value,
        byte[] bytes => new BinaryTableValue((byte[])bytes.Clone()),
        NonUtf8String text => text.Bytes.ToArray(), // the client writes a byte[] as a long string, byte for byte
        DateTimeOffset timestamp => new AmqpTimestamp(timestamp.ToUnixTimeSeconds()),
        UnrepresentableTimestamp timestamp => new AmqpTimestamp(timestamp.UnixSeconds),
        DateTime dateTime => new AmqpTimestamp(new DateTimeOffset(dateTime.ToUniversalTime()).ToUnixTimeSeconds()),
        IEnumerable<KeyValuePair<string, object?>> table => ToAmqp(table),
        IList array => ToAmqpList(array),
        _ => value,
    };

    private static List<object?> FromAmqpList(IList array)
    {
        var result = new List<object?>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            result.Add(FromAmqpValue(array[i]));
        }

        return result;
    }

    private static Dictionary<string, object?> FromLegacyTable(IDictionary table)
    {
        var result = new Dictionary<string, object?>(table.Count, StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
        {
            result[Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty] = FromAmqpValue(entry.Value);
        }

        return result;
    }

    private static List<object?> ToAmqpList(IList array)
    {
        var result = new List<object?>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            result.Add(ToAmqpValue(array[i]));
        }

        return result;
    }
}
