using System.Collections;
using System.Globalization;
using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>
/// What RabbitMQ refuses in a publish's properties by closing the channel (<c>406 PRECONDITION_FAILED</c>): an
/// <c>expiration</c> that is not a whole number of milliseconds from 0 to 4294967295 (<c>invalid expiration 'abc':
/// no_integer</c>), and a <c>CC</c> or <c>BCC</c> header that is not an array (<c>invalid message:
/// {unacceptable_type_in_header,"CC",longstr}</c>). A RabbitMQ upstream never holds such a message, since it refuses it
/// the same way, but another protocol can: a NATS header <c>amqp-expiration: abc</c> or <c>CC: x</c> (NATS headers are
/// text) is any publisher's to send. A link took the channel's close for a broken downstream and restarted over the
/// message: a JetStream upstream gave it back first, for ever, and nothing behind it crossed; a core NATS link lost what
/// it had buffered, uncounted (black-box run, 8 Dec 2026). So such a message is refused here, alone, as one the
/// downstream can never take: the link counts it (<c>downstream_rejected</c>), logs the episode, settles it upstream and
/// goes on.
/// </summary>
internal static class AmqpBrokerPreconditions
{
    /// <summary>RabbitMQ's longest expiration and TTL (<c>MAX_EXPIRY_TIMER</c>: Erlang's timers take 32 bits).</summary>
    public const long MaxExpiration = 4294967295;

    // The headers RabbitMQ reads as extra routing keys (sender-selected distribution): each must be an array.
    private static readonly string[] RoutingHeaders = ["CC", "BCC"];

    // Enough of a value for whoever looks for its publisher; the rest would only flood the log line.
    private const int ShownChars = 64;

    /// <summary>Throws <see cref="MessageRefusedException"/> when RabbitMQ would close the channel over <paramref name="properties"/>.</summary>
    /// <param name="properties">The converted properties, about to be published.</param>
    /// <param name="exchange">The target exchange, for the message.</param>
    /// <param name="routingKey">The routing key, for the message.</param>
    /// <param name="index">Which message of a unit it is.</param>
    public static void Check(IReadOnlyBasicProperties properties, string exchange, string routingKey, int index = 0)
    {
        if (properties.Expiration is { } expiration && !IsExpiration(expiration))
        {
            throw new MessageRefusedException(
                string.Format(CultureInfo.InvariantCulture,
                    "The message to exchange '{0}' with routing key '{1}' has the expiration '{2}', which RabbitMQ refuses (it takes a whole number of milliseconds from 0 to {3}), so it was not published.",
                    exchange, routingKey, Shown(expiration), MaxExpiration),
                index);
        }

        if (properties.Headers is not { Count: > 0 } headers)
        {
            return;
        }

        foreach (var name in RoutingHeaders)
        {
            if (headers.TryGetValue(name, out var value) && value is not IList)
            {
                throw new MessageRefusedException(
                    string.Format(CultureInfo.InvariantCulture,
                        "The message to exchange '{0}' with routing key '{1}' has a header '{2}' that is {3}, not an array, which RabbitMQ refuses (it reads '{2}' as a list of extra routing keys), so it was not published.",
                        exchange, routingKey, name, value is null ? "void" : "a " + value.GetType().Name),
                    index);
            }
        }
    }

    /// <summary>
    /// Whether RabbitMQ reads <paramref name="name"/> as extra routing keys (<c>CC</c>, <c>BCC</c>). RabbitMQ.Client reads an
    /// empty array as void, which RabbitMQ refuses there, so a void one is sent as the empty array it was (see
    /// <see cref="AmqpHeaders.CopyToAmqp"/>): it routes nowhere more either way.
    /// </summary>
    internal static bool IsRoutingHeader(string name) => Array.IndexOf(RoutingHeaders, name) >= 0;

    /// <summary>RabbitMQ's reading (Erlang's <c>string:to_integer</c>, the whole text): an optional sign, digits, 0 to <see cref="MaxExpiration"/>.</summary>
    internal static bool IsExpiration(string text)
    {
        var digits = text.AsSpan();
        var negative = false;
        if (digits.Length > 0 && (digits[0] == '+' || digits[0] == '-'))
        {
            negative = digits[0] == '-';
            digits = digits[1..];
        }

        if (digits.IsEmpty)
        {
            return false;
        }

        long value = 0;
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = (value * 10) + (c - '0');
            if (value > MaxExpiration)
            {
                return false;
            }
        }

        return !negative || value == 0;
    }

    private static string Shown(string text) => text.Length <= ShownChars ? text : text[..ShownChars] + "...";
}
