using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Federation.Core.Hops;
using Federation.Core.Transport;

namespace Federation.Core.Links.Deduplication;

/// <summary>
/// The identity of a delivery for duplicate suppression: 128 bits of SHA-256 over the publisher's <c>message-id</c> when
/// it has one; otherwise over the routing key, the body and every property, without what changes between two deliveries
/// of one published message (the <c>x-received-from</c> hop trail, and headers brokers add such as <c>x-death</c>,
/// <c>x-delivery-count</c>). Two messages with equal identities are treated as one.
/// </summary>
/// <remarks>
/// SHA-256 rather than a faster non-cryptographic hash: it is in the base library (no new dependency), hardware
/// accelerated, and a publisher cannot make two different messages collide on purpose.
/// </remarks>
internal static class DeliveryFingerprint
{
    // Enough for a message of a few kilobytes and its properties; larger ones get a buffer of their own.
    private const int ReusedBufferLimit = 16 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    /// <summary>Headers that a broker adds or changes on redelivery or dead-lettering, or that a federation hop adds.</summary>
    private static readonly HashSet<string> VolatileHeaders = new(StringComparer.Ordinal)
    {
        HopHeaders.ReceivedFrom,
        "x-death",
        "x-delivery-count",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    };

    /// <summary>Computes the identity of a delivery; call it before the link changes the delivery's properties.</summary>
    public static UInt128 Of(Delivery delivery)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        return Of(delivery.RoutingKey, delivery.Properties, delivery.Body.Span);
    }

    /// <summary>Computes the identity of a message from its routing key, properties and body.</summary>
    public static UInt128 Of(string routingKey, MessageProperties properties, ReadOnlySpan<byte> body)
    {
        // The bytes to hash go into a buffer kept per thread: a new one per message (its size is the body's) was the largest
        // allocation of a deduplicated forward. Nothing here calls out, so one use never overlaps another on a thread.
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(ReusedBufferLimit);
        buffer.ResetWrittenCount();
        try
        {
            return Write(buffer, routingKey, properties, body);
        }
        finally
        {
            if (buffer.Capacity > ReusedBufferLimit)
            {
                // A large message's buffer is not kept for the life of the thread.
                t_buffer = null;
            }
        }
    }

    private static UInt128 Write(ArrayBufferWriter<byte> buffer, string routingKey, MessageProperties properties, ReadOnlySpan<byte> body)
    {
        if (!string.IsNullOrEmpty(properties.MessageId))
        {
            // The publisher said which messages are the same one: nothing else counts.
            WriteTag(buffer, 'm');
            WriteString(buffer, properties.MessageId);
            return Hash(buffer.WrittenSpan);
        }

        WriteTag(buffer, 'f');
        WriteString(buffer, routingKey);
        WriteString(buffer, properties.ContentType);
        WriteString(buffer, properties.ContentEncoding);
        WriteString(buffer, properties.CorrelationId);
        WriteString(buffer, properties.ReplyTo);
        WriteString(buffer, properties.Expiration);
        WriteString(buffer, properties.Type);
        WriteString(buffer, properties.UserId);
        WriteString(buffer, properties.AppId);
        WriteTag(buffer, properties.Persistent ? 'P' : 'p');
        WriteInt64(buffer, properties.Priority ?? -1);
        WriteTimestamp(buffer, properties.UnixTimestamp);
        if (properties.Headers is { } headers)
        {
            var names = headers.Keys.Where(name => !VolatileHeaders.Contains(name)).ToArray();
            Array.Sort(names, StringComparer.Ordinal);
            WriteInt64(buffer, names.Length);
            foreach (var name in names)
            {
                WriteString(buffer, name);
                WriteValue(buffer, headers[name]);
            }
        }
        else
        {
            WriteInt64(buffer, -1);
        }

        WriteInt64(buffer, body.Length);
        buffer.Write(body);
        return Hash(buffer.WrittenSpan);
    }

    private static UInt128 Hash(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(data, digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    // Every value is written with a type tag and a length or fixed width, so that no two different inputs write the same bytes.
    private static void WriteValue(ArrayBufferWriter<byte> buffer, object? value)
    {
        switch (value)
        {
            case null:
                WriteTag(buffer, 'V');
                break;
            case string text:
                WriteTag(buffer, 'S');
                WriteString(buffer, text);
                break;
            case byte[] bytes:
                WriteTag(buffer, 'x');
                WriteInt64(buffer, bytes.Length);
                buffer.Write(bytes);
                break;
            case bool flag:
                WriteTag(buffer, flag ? 'T' : 't');
                break;
            case sbyte or byte or short or int or long:
                WriteTag(buffer, 'l');
                WriteInt64(buffer, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case float or double:
                WriteTag(buffer, 'd');
                WriteInt64(buffer, BitConverter.DoubleToInt64Bits(Convert.ToDouble(value, CultureInfo.InvariantCulture)));
                break;
            case decimal number:
                WriteTag(buffer, 'D');
                WriteString(buffer, number.ToString(CultureInfo.InvariantCulture));
                break;
            case DateTimeOffset time:
                WriteTag(buffer, 'c');
                WriteInt64(buffer, time.ToUnixTimeSeconds());
                break;
            case UnrepresentableTimestamp time:
                // The same AMQP type as a DateTimeOffset, so the same tag: only the range differs.
                WriteTag(buffer, 'c');
                WriteInt64(buffer, time.UnixSeconds);
                break;
            case NonUtf8String text:
                // Text, like a string, but written as the bytes it is: no two different values write the same.
                WriteTag(buffer, 's');
                WriteInt64(buffer, text.Bytes.Length);
                buffer.Write(text.Bytes.Span);
                break;
            case IDictionary<string, object?> table:
                WriteTag(buffer, 'F');
                WriteInt64(buffer, table.Count);
                foreach (var name in table.Keys.Order(StringComparer.Ordinal))
                {
                    WriteString(buffer, name);
                    WriteValue(buffer, table[name]);
                }

                break;
            case System.Collections.IEnumerable list:
                WriteTag(buffer, 'A');
                foreach (var item in list)
                {
                    WriteValue(buffer, item);
                }

                WriteTag(buffer, 'a');
                break;
            default:
                WriteTag(buffer, '?');
                WriteString(buffer, Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    // No timestamp writes long.MinValue, as it always did. Any 64-bit timestamp is legal, so the two lowest values (too
    // far out for DateTimeOffset, so never written before) are escaped: long.MinValue + 1 and a tag, which no other value
    // writes. Every other value writes itself, so identities recorded before stay the same.
    private static void WriteTimestamp(ArrayBufferWriter<byte> buffer, long? seconds)
    {
        switch (seconds)
        {
            case null:
                WriteInt64(buffer, long.MinValue);
                break;
            case long.MinValue or long.MinValue + 1:
                WriteInt64(buffer, long.MinValue + 1);
                WriteTag(buffer, seconds == long.MinValue ? '0' : '1');
                break;
            case { } value:
                WriteInt64(buffer, value);
                break;
        }
    }

    private static void WriteTag(ArrayBufferWriter<byte> buffer, char tag)
    {
        buffer.GetSpan(1)[0] = (byte)tag;
        buffer.Advance(1);
    }

    private static void WriteInt64(ArrayBufferWriter<byte> buffer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer.GetSpan(8), value);
        buffer.Advance(8);
    }

    private static void WriteString(ArrayBufferWriter<byte> buffer, string? text)
    {
        if (text is null)
        {
            WriteInt64(buffer, -1);
            return;
        }

        var length = Encoding.UTF8.GetByteCount(text);
        WriteInt64(buffer, length);
        var written = Encoding.UTF8.GetBytes(text, buffer.GetSpan(length));
        buffer.Advance(written);
    }
}
