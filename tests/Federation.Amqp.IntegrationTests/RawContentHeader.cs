using System.Buffers.Binary;
using System.Text;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Message properties written exactly as given, byte for byte, so that a test can publish what RabbitMQ accepts but
/// RabbitMQ.Client cannot build (an AMQP decimal with a scale above 28, say). Publish it on a channel without publisher
/// confirms and without client tracing: the client then writes it as it is.
/// </summary>
internal readonly struct RawContentHeader : IReadOnlyBasicProperties, IAmqpHeader
{
    private const ushort HeadersFlag = 0x2000;
    private const ushort MessageIdFlag = 0x0080;
    private readonly byte[] properties;

    private RawContentHeader(byte[] properties) => this.properties = properties;

    /// <summary>Properties with a message id and a header table of the given raw fields (each: short-string name, type octet, value).</summary>
    public static RawContentHeader WithFields(string messageId, params byte[][] fields)
    {
        var table = fields.SelectMany(field => field).ToArray();
        var id = Encoding.UTF8.GetBytes(messageId);
        var bytes = new byte[2 + 4 + table.Length + 1 + id.Length];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, HeadersFlag | MessageIdFlag);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(2), (uint)table.Length);
        table.CopyTo(bytes, 6);
        bytes[6 + table.Length] = (byte)id.Length;
        id.CopyTo(bytes, 7 + table.Length);
        return new RawContentHeader(bytes);
    }

    /// <summary>A decimal field: name, 'D', scale, 32-bit value.</summary>
    public static byte[] DecimalField(string name, byte scale, int value)
    {
        var field = Name(name).Concat(new byte[] { (byte)'D', scale, 0, 0, 0, 0 }).ToArray();
        BinaryPrimitives.WriteInt32BigEndian(field.AsSpan(field.Length - 4), value);
        return field;
    }

    /// <summary>A field of <paramref name="depth"/> arrays, each holding the next, the innermost holding one void value.</summary>
    public static byte[] NestedArraysField(string name, int depth)
    {
        var value = new byte[(depth * 5) + 1];
        for (var level = 0; level < depth; level++)
        {
            var at = level * 5;
            value[at] = (byte)'A';
            BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(at + 1), (uint)(value.Length - at - 5));
        }

        value[^1] = (byte)'V';
        return [.. Name(name), .. value];
    }

    /// <summary>A nested table field holding one decimal field: to check that the nesting makes no difference.</summary>
    public static byte[] TableField(string name, byte[] inner)
    {
        var field = Name(name).Concat(new byte[] { (byte)'F', 0, 0, 0, 0 }).Concat(inner).ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(field.AsSpan(field.Length - inner.Length - 4), (uint)inner.Length);
        return field;
    }

    public ushort ProtocolClassId => 60;

    public string? AppId => null;

    public string? ClusterId => null;

    public string? ContentEncoding => null;

    public string? ContentType => null;

    public string? CorrelationId => null;

    public DeliveryModes DeliveryMode => default;

    public string? Expiration => null;

    public IDictionary<string, object?>? Headers => null;

    public string? MessageId => null;

    public bool Persistent => false;

    public byte Priority => 0;

    public string? ReplyTo => null;

    public PublicationAddress? ReplyToAddress => null;

    public AmqpTimestamp Timestamp => default;

    public string? Type => null;

    public string? UserId => null;

    public int GetRequiredBufferSize() => properties.Length;

    public int WriteTo(Span<byte> span)
    {
        properties.CopyTo(span);
        return properties.Length;
    }

    public bool IsAppIdPresent() => false;

    public bool IsClusterIdPresent() => false;

    public bool IsContentEncodingPresent() => false;

    public bool IsContentTypePresent() => false;

    public bool IsCorrelationIdPresent() => false;

    public bool IsDeliveryModePresent() => false;

    public bool IsExpirationPresent() => false;

    public bool IsHeadersPresent() => false;

    public bool IsMessageIdPresent() => false;

    public bool IsPriorityPresent() => false;

    public bool IsReplyToPresent() => false;

    public bool IsTimestampPresent() => false;

    public bool IsTypePresent() => false;

    public bool IsUserIdPresent() => false;

    private static byte[] Name(string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        return [(byte)bytes.Length, .. bytes];
    }
}
