using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>Maps <see cref="MessageProperties"/> to and from the AMQP basic-class properties of RabbitMQ.Client.</summary>
internal static class AmqpProperties
{
    private const byte PersistentDeliveryMode = 2;

    /// <summary>Builds fresh client properties; the client adds its own headers to them, so they are never shared.</summary>
    public static BasicProperties ToAmqp(MessageProperties properties)
    {
        var result = new BasicProperties
        {
            ContentType = properties.ContentType,
            ContentEncoding = properties.ContentEncoding,
            CorrelationId = properties.CorrelationId,
            ReplyTo = properties.ReplyTo,
            Expiration = properties.Expiration,
            MessageId = properties.MessageId,
            Type = properties.Type,
            UserId = properties.UserId,
            AppId = properties.AppId,
        };

        if (properties.Persistent)
        {
            result.DeliveryMode = DeliveryModes.Persistent;
        }

        if (properties.Priority is { } priority)
        {
            result.Priority = priority;
        }

        if (properties.Timestamp is { } timestamp)
        {
            result.Timestamp = new AmqpTimestamp(timestamp.ToUnixTimeSeconds());
        }

        if (properties.Headers is { } headers)
        {
            result.Headers = AmqpHeaders.ToAmqp(headers);
        }

        return result;
    }

    /// <summary>Copies received properties out of the client's objects, which are only valid during the delivery callback.</summary>
    public static MessageProperties FromAmqp(IReadOnlyBasicProperties properties) => new()
    {
        ContentType = properties.ContentType,
        ContentEncoding = properties.ContentEncoding,
        Headers = AmqpHeaders.FromAmqp(properties.Headers),
        Persistent = properties.IsDeliveryModePresent() && (byte)properties.DeliveryMode == PersistentDeliveryMode,
        Priority = properties.IsPriorityPresent() ? properties.Priority : null,
        CorrelationId = properties.CorrelationId,
        ReplyTo = properties.ReplyTo,
        Expiration = properties.Expiration,
        MessageId = properties.MessageId,
        Timestamp = properties.IsTimestampPresent() ? DateTimeOffset.FromUnixTimeSeconds(properties.Timestamp.UnixTime) : null,
        Type = properties.Type,
        UserId = properties.UserId,
        AppId = properties.AppId,
    };
}
