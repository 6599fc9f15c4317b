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
/// Two rarer forms keep values exact that those types cannot hold: <see cref="NonUtf8String"/> for text whose bytes are
/// not UTF-8, and <see cref="UnrepresentableTimestamp"/> for a timestamp outside the years 1 to 9999.
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
    // AMQP carries the timestamp as 64-bit seconds, most of which DateTimeOffset cannot hold (a sender that put
    // milliseconds there, say): such a value is kept here, so that it is forwarded unchanged.
    // A long and a flag rather than a long?: the flag packs with the other small fields (8 bytes a message, not 16).
    private DateTimeOffset? _timestamp;
    private long _unrepresentableTimestamp;
    private bool _hasUnrepresentableTimestamp;

    /// <summary>
    /// Creation timestamp; <see langword="null"/> when there is none, and also when the message carries one that
    /// <see cref="DateTimeOffset"/> cannot represent (before the year 1 or after 9999): <see cref="UnixTimestamp"/> has it then.
    /// </summary>
    public DateTimeOffset? Timestamp
    {
        get => _timestamp;
        set
        {
            _timestamp = value;
            _hasUnrepresentableTimestamp = false;
        }
    }

    /// <summary>
    /// Creation timestamp in seconds since the Unix epoch, exactly as AMQP carries it (any 64-bit value, also one that
    /// <see cref="Timestamp"/> cannot represent); <see langword="null"/> when there is none. Setting it sets
    /// <see cref="Timestamp"/> too, or clears it when the value is out of its range.
    /// </summary>
    public long? UnixTimestamp
    {
        get => _timestamp is { } timestamp ? timestamp.ToUnixTimeSeconds() : _hasUnrepresentableTimestamp ? _unrepresentableTimestamp : null;
        set
        {
            if (value is { } seconds && UnrepresentableTimestamp.IsRepresentable(seconds))
            {
                _timestamp = DateTimeOffset.FromUnixTimeSeconds(seconds);
                _hasUnrepresentableTimestamp = false;
            }
            else
            {
                _timestamp = null;
                _hasUnrepresentableTimestamp = value.HasValue;
                _unrepresentableTimestamp = value.GetValueOrDefault();
            }
        }
    }

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
