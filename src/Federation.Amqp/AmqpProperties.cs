using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>Maps <see cref="MessageProperties"/> to and from the AMQP basic-class properties of RabbitMQ.Client.</summary>
internal static class AmqpProperties
{
    private const byte PersistentDeliveryMode = 2;

    /// <summary>
    /// Writes <paramref name="properties"/> into <paramref name="target"/>, overwriting every field, so that a publisher can
    /// reuse one client object per pending publish instead of allocating one per message. The headers go into
    /// <paramref name="headerTable"/> (cleared first), whose values are copies: the caller may change its own afterwards.
    /// </summary>
    /// <param name="properties">The message's properties.</param>
    /// <param name="target">The client properties to overwrite; not in use by any other publish.</param>
    /// <param name="headerTable">The table the headers go into; not in use by any other publish.</param>
    /// <param name="alwaysHeaders">
    /// Give a message without headers the empty <paramref name="headerTable"/>: with publisher confirms the client adds an
    /// empty table of its own to such a message anyway (allocating it), so the bytes on the wire are the same.
    /// </param>
    /// <param name="trails">The caller's cache of converted <c>x-received-from</c> trails, or <see langword="null"/> to convert them afresh.</param>
    public static void CopyToAmqp(MessageProperties properties, BasicProperties target, Dictionary<string, object?> headerTable, bool alwaysHeaders, TrailConversionCache? trails)
    {
        target.ContentType = properties.ContentType;
        target.ContentEncoding = properties.ContentEncoding;
        target.CorrelationId = properties.CorrelationId;
        target.ReplyTo = properties.ReplyTo;
        target.Expiration = properties.Expiration;
        target.MessageId = properties.MessageId;
        target.Type = properties.Type;
        target.UserId = properties.UserId;
        target.AppId = properties.AppId;
        target.DeliveryMode = properties.Persistent ? DeliveryModes.Persistent : default;
        target.Priority = properties.Priority ?? default;
        target.Timestamp = properties.UnixTimestamp is { } seconds ? new AmqpTimestamp(seconds) : default;
        headerTable.Clear();
        if (properties.Headers is { } headers)
        {
            AmqpHeaders.CopyToAmqp(headers, headerTable, trails);
            target.Headers = headerTable;
        }
        else
        {
            target.Headers = alwaysHeaders ? headerTable : null;
        }
    }

    /// <summary>
    /// Copies received properties out of the client's objects, which are only valid during the delivery callback. Every
    /// value the client could read is kept exactly, also a timestamp that <see cref="DateTimeOffset"/> cannot hold (see
    /// <see cref="MessageProperties.UnixTimestamp"/>); so this does not throw for any message the client delivered.
    /// </summary>
    public static MessageProperties FromAmqp(IReadOnlyBasicProperties properties) => new()
    {
        ContentType = properties.ContentType,
        ContentEncoding = properties.ContentEncoding,
        Headers = AmqpHeaders.FromAmqpMessageHeaders(properties.Headers),
        Persistent = properties.IsDeliveryModePresent() && (byte)properties.DeliveryMode == PersistentDeliveryMode,
        Priority = properties.IsPriorityPresent() ? properties.Priority : null,
        CorrelationId = properties.CorrelationId,
        ReplyTo = properties.ReplyTo,
        Expiration = properties.Expiration,
        MessageId = properties.MessageId,
        // The client reads the 64 bits as a long; the same long goes back out, so every value survives unchanged.
        UnixTimestamp = properties.IsTimestampPresent() ? properties.Timestamp.UnixTime : null,
        Type = properties.Type,
        UserId = properties.UserId,
        AppId = properties.AppId,
    };
}
