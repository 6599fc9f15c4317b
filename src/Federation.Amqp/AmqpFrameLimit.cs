using System.Buffers;
using System.Globalization;
using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>
/// Whether a message's properties fit in one frame of a connection. AMQP 0-9-1 carries them in a single content-header
/// frame that cannot be split, and RabbitMQ answers a frame over the negotiated <c>frame_max</c> by closing the whole
/// connection (<c>501 FRAME_ERROR</c>): every channel on it, so for a downstream connection every link's publishes, its
/// leases and its ledger. A message with headers near the limit (or over it, published upstream through the management
/// API, STOMP or MQTT) grows by the hop trail on its way, so it must be refused before it is written, never sent.
/// </summary>
internal static class AmqpFrameLimit
{
    // Frame type (1), channel (2), payload size (4), and the frame-end octet (1).
    private const int FrameOverhead = 8;
    // Content-header payload before the property flags and list: class id (2), weight (2), body size (8).
    private const int ContentHeaderPrefix = 12;

    /// <summary>
    /// Throws <see cref="MessageTooLargeException"/> when <paramref name="properties"/> do not fit in one frame of
    /// <paramref name="frameMax"/> bytes (0: no limit).
    /// </summary>
    /// <param name="properties">The converted properties, about to be published.</param>
    /// <param name="frameMax">The connection's negotiated frame size.</param>
    /// <param name="exchange">The target exchange, for the message.</param>
    /// <param name="routingKey">The routing key, for the message.</param>
    /// <param name="index">Which message of a unit it is.</param>
    public static void Check(BasicProperties properties, uint frameMax, string exchange, string routingKey, int index = 0)
    {
        if (frameMax == 0)
        {
            return;
        }

        long limit = frameMax - FrameOverhead;
        IAmqpWriteable writeable = properties;
        // The client's estimate never falls short of the bytes it writes; only a message near the limit is written out.
        var estimate = ContentHeaderPrefix + (long)writeable.GetRequiredBufferSize();
        if (estimate <= limit)
        {
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)estimate);
        long size;
        try
        {
            size = ContentHeaderPrefix + (long)writeable.WriteTo(buffer);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (size > limit)
        {
            throw new MessageTooLargeException(
                string.Format(CultureInfo.InvariantCulture,
                    "The message to exchange '{0}' with routing key '{1}' has properties and headers of {2} bytes (hop trail included), over the {3} bytes that fit in one frame of this connection (frame_max {4}); AMQP cannot split them, so it was not published.",
                    exchange, routingKey, size, limit, frameMax),
                index);
        }
    }
}
