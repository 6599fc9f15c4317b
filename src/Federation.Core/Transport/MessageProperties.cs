namespace Federation.Core.Transport;

/// <summary>
/// Message properties in the AMQP 0-9-1 basic-class vocabulary, which every transport maps to and from.
/// </summary>
/// <remarks>
/// Header values use one normalised representation across transports: <see cref="string"/> for text,
/// <see cref="bool"/>, <see cref="int"/>/<see cref="long"/>/<see cref="short"/>/<see cref="byte"/>/<see cref="sbyte"/>,
/// <see cref="float"/>/<see cref="double"/>/<see cref="decimal"/>, <see cref="byte"/>[] for binary,
/// <see cref="DateTimeOffset"/> for timestamps, <see cref="List{T}"/> of <see cref="object"/> for arrays and
/// <see cref="Dictionary{TKey,TValue}"/> of <see cref="string"/> to <see cref="object"/> for tables.
/// Adapters convert their client library's types (for example RabbitMQ.Client's UTF-8 <c>byte[]</c> strings) at the boundary.
/// </remarks>
public sealed class MessageProperties
{
    /// <summary>MIME content type.</summary>
    public string? ContentType { get; set; }
    /// <summary>MIME content encoding.</summary>
    public string? ContentEncoding { get; set; }
    /// <summary>Application headers, or <see langword="null"/> when there are none.</summary>
    public Dictionary<string, object?>? Headers { get; set; }
    /// <summary>Whether the message is persistent (AMQP delivery-mode 2).</summary>
    public bool Persistent { get; set; }
    /// <summary>Message priority.</summary>
    public byte? Priority { get; set; }
    /// <summary>Correlation id.</summary>
    public string? CorrelationId { get; set; }
    /// <summary>Reply-to address.</summary>
    public string? ReplyTo { get; set; }
    /// <summary>Per-message TTL in milliseconds, as a string (AMQP <c>expiration</c>).</summary>
    public string? Expiration { get; set; }
    /// <summary>Application message id.</summary>
    public string? MessageId { get; set; }
    /// <summary>Creation timestamp.</summary>
    public DateTimeOffset? Timestamp { get; set; }
    /// <summary>Message type name.</summary>
    public string? Type { get; set; }
    /// <summary>The publishing user's id; brokers may validate it against the connection's user.</summary>
    public string? UserId { get; set; }
    /// <summary>Publishing application id.</summary>
    public string? AppId { get; set; }

    /// <summary>Returns a copy whose header table (but not nested values) can be changed independently.</summary>
    public MessageProperties Clone()
    {
        var copy = (MessageProperties)MemberwiseClone();
        copy.Headers = Headers is null ? null : new Dictionary<string, object?>(Headers, StringComparer.Ordinal);
        return copy;
    }
}
