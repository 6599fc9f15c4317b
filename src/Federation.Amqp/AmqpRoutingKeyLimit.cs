using System.Globalization;
using System.Text;
using Federation.Core.Transport;

namespace Federation.Amqp;

/// <summary>
/// Whether a routing key fits AMQP 0-9-1: basic.publish carries it as a short string, at most 255 bytes of UTF-8.
/// RabbitMQ.Client refuses a longer one with an <see cref="ArgumentException"/> while it writes the method, which a link
/// would take for a broken publisher and restart over, again and again for the same message. Another protocol has no such
/// limit (a NATS subject forwarded by a cross-protocol link can be far longer), so such a message is refused here, alone,
/// as one the transport can never carry: the link counts it (<c>too_large</c>), logs the episode, settles it upstream and
/// goes on.
/// </summary>
internal static class AmqpRoutingKeyLimit
{
    /// <summary>The longest routing key AMQP 0-9-1 can carry, in bytes of UTF-8.</summary>
    public const int MaxBytes = 255;

    // Enough of the key for whoever looks for its publisher; the rest would only flood the log line.
    private const int ShownChars = 64;

    /// <summary>Throws <see cref="MessageTooLargeException"/> when <paramref name="routingKey"/> is over <see cref="MaxBytes"/>.</summary>
    /// <param name="exchange">The target exchange, for the message.</param>
    /// <param name="routingKey">The routing key about to be published.</param>
    /// <param name="index">Which message of a unit it is.</param>
    public static void Check(string exchange, string routingKey, int index = 0)
    {
        // Each char is at most 3 bytes of UTF-8 (a surrogate pair is 4 for 2 chars): a short key needs no count.
        if (routingKey.Length * 3 <= MaxBytes)
        {
            return;
        }

        var length = Encoding.UTF8.GetByteCount(routingKey);
        if (length <= MaxBytes)
        {
            return;
        }

        throw new MessageTooLargeException(
            string.Format(CultureInfo.InvariantCulture,
                "The message to exchange '{0}' has a routing key of {1} bytes, over the {2} bytes AMQP 0-9-1 allows, so it was not published (the key starts '{3}...').",
                exchange, length, MaxBytes, routingKey[..Math.Min(ShownChars, routingKey.Length)]),
            index);
    }
}
