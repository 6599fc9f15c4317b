using System.Globalization;
using System.Text.RegularExpressions;
using Federation.Core.Transport;
using RabbitMQ.Client.Events;

namespace Federation.Amqp;

/// <summary>
/// RabbitMQ's <c>max_message_size</c>: the largest message body a channel takes. A larger one makes the broker close the
/// publishing channel (<c>406 PRECONDITION_FAILED - message size N is larger than configured max size M</c>), which fails
/// everything in flight on it. A link treated that as a failed publish, so the upstream redelivered the message first at
/// every restart and everything behind it stalled for good (an upstream with a larger limit takes such messages).
/// </summary>
/// <remarks>
/// The limit is not announced at connect (not in the server properties, nor in the management API of RabbitMQ 3.x), so it
/// is learned from the first refusal's text and kept on the connection (<see cref="AmqpConnection.MaxMessageSize"/>):
/// from then on a larger body is refused before it is written, as <see cref="AmqpFrameLimit"/> refuses oversized headers,
/// and the channel and the messages around it are unharmed. The first refusal itself is mapped to
/// <see cref="MessageTooLargeException"/> for the message that caused it, so a link rejects that one upstream and goes on.
/// A learned limit lives as long as the connection: RabbitMQ reads <c>max_message_size</c> from its configuration, so a
/// changed limit comes with a node restart, which drops the connection and with it what was learned.
/// </remarks>
internal static partial class AmqpMessageSizeLimit
{
    private const ushort PreconditionFailed = 406;

    /// <summary>
    /// Reads the limit from a channel close that refused a message for its size. RabbitMQ 3.x and 4.x say "message size N
    /// is larger than configured max size M", or "… larger than max size M" when M is the broker's hard maximum.
    /// </summary>
    /// <param name="reason">Why the channel closed; null when it has not.</param>
    /// <param name="limit">The broker's limit in bytes.</param>
    public static bool TryReadRefusal(ShutdownEventArgs? reason, out long limit)
    {
        limit = 0;
        if (reason is not { ReplyCode: PreconditionFailed, ReplyText: { } text })
        {
            return false;
        }

        var match = RefusalText().Match(text);
        return match.Success
            && long.TryParse(match.Groups["limit"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out limit)
            && limit > 0;
    }

    /// <summary>
    /// Throws <see cref="MessageTooLargeException"/> when a body of <paramref name="size"/> bytes is over
    /// <paramref name="limit"/> (0: not known yet).
    /// </summary>
    /// <param name="size">The body's size.</param>
    /// <param name="limit">The limit learned on the connection.</param>
    /// <param name="exchange">The target exchange, for the message.</param>
    /// <param name="routingKey">The routing key, for the message.</param>
    /// <param name="index">Which message of a unit it is.</param>
    public static void Check(int size, long limit, string exchange, string routingKey, int index = 0)
    {
        if (limit > 0 && size > limit)
        {
            throw TooLarge(size, limit, exchange, routingKey, index, refusedByBroker: false);
        }
    }

    /// <summary>The refusal of one message whose body is over the broker's limit.</summary>
    /// <param name="size">The body's size.</param>
    /// <param name="limit">The broker's limit.</param>
    /// <param name="exchange">The target exchange.</param>
    /// <param name="routingKey">The routing key.</param>
    /// <param name="index">Which message of a unit it is.</param>
    /// <param name="refusedByBroker">Whether the broker refused it (it was written), or it was refused before writing.</param>
    public static MessageTooLargeException TooLarge(long size, long limit, string exchange, string routingKey, int index, bool refusedByBroker) =>
        new(string.Format(CultureInfo.InvariantCulture,
                refusedByBroker
                    ? "The broker refused the message to exchange '{0}' with routing key '{1}': its body of {2} bytes is over the broker's max_message_size of {3} bytes (406 PRECONDITION_FAILED)."
                    : "The message to exchange '{0}' with routing key '{1}' has a body of {2} bytes, over the broker's max_message_size of {3} bytes (learned from an earlier refusal on this connection), so it was not published.",
                exchange, routingKey, size, limit),
            index);

    [GeneratedRegex(@"message size \d+ is larger than (?:configured )?max size (?<limit>\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex RefusalText();
}
