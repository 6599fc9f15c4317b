using System.Collections;
using System.Globalization;
using System.Text;
using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>
/// Whether the short strings of a message's properties fit AMQP 0-9-1: the string properties (<c>content_type</c>,
/// <c>message_id</c>, ...) and every header name, nested tables' included, travel as short strings of at most 255 bytes.
/// A message can arrive with longer ones: from another protocol (a NATS header name or <c>amqp-content-type</c> of any
/// length), or from AMQP itself when a short string is not UTF-8, which RabbitMQ.Client reads with U+FFFD for each
/// invalid byte (three bytes where there was one). RabbitMQ.Client throws an <see cref="ArgumentException"/> while it
/// writes such a string; a link took that for a broken publisher and restarted over the same message again and again
/// (and on a core NATS upstream lost what it had buffered at each restart). So such a message is refused here, alone,
/// as one the transport can never carry: the link counts it (<c>too_large</c>), logs the episode, settles it upstream and
/// goes on.
/// </summary>
internal static class AmqpShortStringLimit
{
    /// <summary>The longest AMQP short string, in bytes of UTF-8.</summary>
    public const int MaxBytes = 255;

    // Enough of a header name for whoever looks for its publisher; the rest would only flood the log line.
    private const int ShownChars = 64;

    /// <summary>
    /// Throws <see cref="MessageTooLargeException"/> when a string property or a header name of <paramref name="properties"/>
    /// is over <see cref="MaxBytes"/> bytes of UTF-8.
    /// </summary>
    /// <param name="properties">The converted properties, about to be published.</param>
    /// <param name="exchange">The target exchange, for the message.</param>
    /// <param name="routingKey">The routing key, for the message.</param>
    /// <param name="index">Which message of a unit it is.</param>
    public static void Check(IReadOnlyBasicProperties properties, string exchange, string routingKey, int index = 0)
    {
        CheckProperty(properties.ContentType, "content_type", exchange, routingKey, index);
        CheckProperty(properties.ContentEncoding, "content_encoding", exchange, routingKey, index);
        CheckProperty(properties.CorrelationId, "correlation_id", exchange, routingKey, index);
        CheckProperty(properties.ReplyTo, "reply_to", exchange, routingKey, index);
        CheckProperty(properties.Expiration, "expiration", exchange, routingKey, index);
        CheckProperty(properties.MessageId, "message_id", exchange, routingKey, index);
        CheckProperty(properties.Type, "type", exchange, routingKey, index);
        CheckProperty(properties.UserId, "user_id", exchange, routingKey, index);
        CheckProperty(properties.AppId, "app_id", exchange, routingKey, index);
        CheckProperty(properties.ClusterId, "cluster_id", exchange, routingKey, index);
        if (properties.Headers is { } headers)
        {
            CheckTable(headers, exchange, routingKey, index);
        }
    }

    private static void CheckProperty(string? value, string property, string exchange, string routingKey, int index)
    {
        if (value is null || !IsTooLong(value, out var length))
        {
            return;
        }

        throw Refusal(exchange, routingKey, index, $"property {property} of {length.ToString(CultureInfo.InvariantCulture)} bytes");
    }

    private static void CheckTable(IEnumerable<KeyValuePair<string, object?>> table, string exchange, string routingKey, int index)
    {
        // The concrete types first: their struct enumerators allocate nothing, and this runs for every forwarded message.
        if (table is Dictionary<string, object?> dictionary)
        {
            foreach (var (name, value) in dictionary)
            {
                CheckEntry(name, value, exchange, routingKey, index);
            }

            return;
        }

        foreach (var (name, value) in table)
        {
            CheckEntry(name, value, exchange, routingKey, index);
        }
    }

    private static void CheckEntry(string name, object? value, string exchange, string routingKey, int index)
    {
        if (IsTooLong(name, out var length))
        {
            throw Refusal(exchange, routingKey, index,
                $"header name of {length.ToString(CultureInfo.InvariantCulture)} bytes (it starts '{name[..Math.Min(ShownChars, name.Length)]}')");
        }

        CheckValue(value, exchange, routingKey, index);
    }

    private static void CheckValue(object? value, string exchange, string routingKey, int index)
    {
        switch (value)
        {
            case byte[]:
                // A long string (one that is not UTF-8) or binary: no name inside. Walked as an IList, it boxed each byte.
                break;
            case IEnumerable<KeyValuePair<string, object?>> table:
                CheckTable(table, exchange, routingKey, index);
                break;
            case List<object?> list:
                foreach (var item in list)
                {
                    CheckValue(item, exchange, routingKey, index);
                }

                break;
            case IList array:
                foreach (var item in array)
                {
                    CheckValue(item, exchange, routingKey, index);
                }

                break;
        }
    }

    private static bool IsTooLong(string value, out int length)
    {
        // Each char is at most 3 bytes of UTF-8 (a surrogate pair is 4 for 2 chars): a short string needs no count.
        if (value.Length * 3 <= MaxBytes)
        {
            length = 0;
            return false;
        }

        length = Encoding.UTF8.GetByteCount(value);
        return length > MaxBytes;
    }

    private static MessageTooLargeException Refusal(string exchange, string routingKey, int index, string what) =>
        new(string.Format(CultureInfo.InvariantCulture,
                "The message to exchange '{0}' with routing key '{1}' has a {2}, over the {3} bytes of an AMQP short string (a name from another protocol, or one that was not UTF-8 and was read with U+FFFD), so it was not published.",
                exchange, routingKey, what, MaxBytes),
            index);
}
