using System.Collections;
using System.Globalization;
using System.Text;
using Federation.Core.Hops;
using Federation.Core.Transport;
using Microsoft.Extensions.Primitives;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Maps <see cref="MessageProperties"/> to NATS headers and back, including the federation hop trail.
/// </summary>
/// <remarks>
/// <para><b>Trail.</b> <c>x-received-from</c> (a list of tables, newest first) is written as the NATS header
/// <c>x-received-from</c> with one value (one header line) per hop, newest first. Each value is
/// <c>key=value</c> pairs separated by <c>;</c>, keys and values percent-encoded (RFC 3986, <see cref="Uri.EscapeDataString(string)"/>):
/// <c>uri=nats%3A%2F%2Fa%3A4222;exchange=orders;redelivered=false;cluster-name=A;vhost=%2F</c>.
/// <c>redelivered=true|false</c> decodes to a boolean, every other field (and any other <c>redelivered</c>) to a string. A received trail with a value that is
/// not a hop is malformed as a whole and kept as text (see <see cref="TryDecodeTrail"/>), as AMQP keeps a malformed one.</para>
/// <para><b>Properties.</b> <c>content-type</c>, <c>content-encoding</c>, <c>correlation-id</c>, <c>reply-to</c>, <c>expiration</c>,
/// <c>message-id</c>, <c>type</c>, <c>user-id</c>, <c>app-id</c>, <c>priority</c> and <c>timestamp</c> (Unix seconds) go into headers named
/// <c>amqp-&lt;property&gt;</c>; <c>persistent</c> as <c>amqp-persistent: true</c> (read back: <c>true</c> or <c>false</c>, any case).
/// Received, an <c>amqp-*</c> header with another name, or whose value does not parse, is an ordinary header; sent, a header
/// named <c>amqp-*</c> is written like any other unless the message writes that property header itself (the property wins).</para>
/// <para><b>Other headers</b> are written under their own name. Strings are kept; numbers, booleans and timestamps are written in
/// invariant text form and come back as strings (the type is lost; a timestamp that <see cref="DateTimeOffset"/> cannot hold
/// as its Unix seconds); byte arrays, and text that is not UTF-8 (<see cref="NonUtf8String"/>), are written as base64 and come back as strings;
/// lists and tables (other than the trail) and header names that NATS cannot carry (space, <c>:</c>, control or non-ASCII
/// characters) are dropped.</para>
/// </remarks>
public static class NatsMessageMapping
{
    /// <summary>The NATS header that carries the hop trail.</summary>
    public const string ReceivedFromHeader = HopHeaders.ReceivedFrom;

    private const string PropertyPrefix = "amqp-";

    // The trail fields (the plugin's names) that TryDecodeHop checks.
    private const string UriField = "uri";
    private const string ExchangeField = "exchange";
    private const string RedeliveredField = "redelivered";
    private const int MaxEscapedFields = 1024;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> EscapedFields = new(StringComparer.Ordinal);

    [ThreadStatic]
    private static StringBuilder? t_builder;

    [ThreadStatic]
    private static HopCache? t_hopCache;

    /// <summary>Builds the NATS headers of a message, or <see langword="null"/> when there is nothing to send.</summary>
    public static NatsHeaders? ToNatsHeaders(MessageProperties properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var sink = new NatsHeadersSink(null);
        Emit(properties, ref sink);
        return sink.Headers;
    }

    /// <summary>
    /// Adds the headers of a message to <paramref name="target"/> (the same headers <see cref="ToNatsHeaders"/> builds), so a
    /// publisher can reuse one header object for every message.
    /// </summary>
    internal static void WriteHeaders(MessageProperties properties, NatsHeaders target)
    {
        var sink = new NatsHeadersSink(target);
        Emit(properties, ref sink);
    }

    private static void Emit<TSink>(MessageProperties properties, ref TSink sink)
        where TSink : struct, IHeaderSink
    {
        for (var property = AmqpProperty.First; property <= AmqpProperty.Last; property++)
        {
            if (PropertyText(properties, property) is { } text && IsHeaderValue(text))
            {
                sink.Add(PropertyHeader(property), text);
            }
        }

        if (properties.Headers is { } table)
        {
            foreach (var (key, value) in table)
            {
                if (!IsValidKey(key) || CollidesWithWrittenProperty(properties, key))
                {
                    continue;
                }

                if (string.Equals(key, ReceivedFromHeader, StringComparison.OrdinalIgnoreCase))
                {
                    AddTrail(ref sink, value);
                    continue;
                }

                if (ToText(value) is { } text && IsHeaderValue(text))
                {
                    sink.Add(key, text);
                }
            }
        }
    }

    /// <summary>Rebuilds message properties from received NATS headers.</summary>
    public static MessageProperties ToProperties(NatsHeaders? headers)
    {
        var properties = new MessageProperties();
        if (headers is null)
        {
            return properties;
        }

        Dictionary<string, object?>? table = null;
        foreach (var (key, values) in headers)
        {
            if (values.Count == 0)
            {
                continue;
            }

            // A property header whose value parses sets the property; any other amqp-* header (another name, a value that
            // does not parse) is an ordinary header, so it crosses instead of vanishing.
            if (TryParsePropertyName(key, out var property) && TrySetProperty(properties, property, values[0] ?? string.Empty))
            {
                continue;
            }

            table ??= new Dictionary<string, object?>(StringComparer.Ordinal);
            if (string.Equals(key, ReceivedFromHeader, StringComparison.OrdinalIgnoreCase))
            {
                table[HopHeaders.ReceivedFrom] = TryDecodeTrail(values, out var trail) ? trail : string.Join(", ", values.Where(static v => v is not null));
            }
            else
            {
                table[key] = values[0];
            }
        }

        properties.Headers = table;
        return properties;
    }

    /// <summary>Encodes one hop table as a header value (see the type remarks for the format).</summary>
    public static string EncodeHop(IEnumerable<KeyValuePair<string, object?>> hop)
    {
        ArgumentNullException.ThrowIfNull(hop);
        var builder = t_builder ??= new StringBuilder(256);
        builder.Clear();
        if (hop is Dictionary<string, object?> table)
        {
            foreach (var (key, value) in table)
            {
                AppendField(builder, key, value);
            }
        }
        else
        {
            foreach (var (key, value) in hop)
            {
                AppendField(builder, key, value);
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes one header value into a hop table; <c>redelivered</c> becomes a boolean.</summary>
    public static Dictionary<string, object?> DecodeHop(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var table = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var pair in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var text = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            table[key] = key == RedeliveredField && bool.TryParse(text, out var flag) ? flag : text;
        }

        return table;
    }

    /// <summary>Decodes every value of the trail header (newest first) into the list-of-tables shape of <c>x-received-from</c>.</summary>
    /// <remarks>Lenient: any value becomes a table. Received messages go through <see cref="ToProperties"/>, which keeps a trail only when every value is a hop.</remarks>
    public static List<object?> DecodeTrail(IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return [.. values.Select(v => (object?)DecodeHop(v))];
    }

    /// <summary>
    /// Decodes the values of a received trail header (newest first) when every one is a hop (<see cref="TryDecodeHop"/>).
    /// Otherwise the header is malformed as a whole, as an AMQP <c>x-received-from</c> that is not an array of tables: it
    /// is kept as text, which the hop rules read as no trail (the message is forwarded, whatever max-hops says) and the
    /// next hop moves into <c>x-invalid-headers</c>. Decoded anyway, garbage, an empty value or a stray
    /// <c>cluster-name=B</c> became a hop each, which used up hop budget: with max-hops 1 a third party's message that
    /// carried any <c>x-received-from</c> was dropped.
    /// </summary>
    internal static bool TryDecodeTrail(StringValues values, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out List<object?>? trail)
    {
        trail = new List<object?>(values.Count);
        foreach (var value in values)
        {
            if (value is null)
            {
                continue;
            }

            if (!TryDecodeHop(value, out var hop))
            {
                trail = null;
                return false;
            }

            trail.Add(hop);
        }

        return true;
    }

    /// <summary>
    /// Decodes one header value into a hop table when it is one: <c>key=value</c> fields joined by <c>;</c>, every key
    /// non-empty, keys and values percent-encoded (a <c>%</c> always starts a valid escape), with the fields a hop cannot
    /// do without, <c>uri</c> and <c>exchange</c> (a missing <c>cluster-name</c> or <c>vhost</c> is allowed: older
    /// RabbitMQ federation plugins omit them, and their hops count toward max-hops on AMQP too). A <c>redelivered</c> of
    /// <c>true</c> or <c>false</c> becomes a boolean, any other value stays text (a hop all the same, as on AMQP). What it
    /// yields for such a value is exactly what <see cref="DecodeHop"/> yields.
    /// </summary>
    internal static bool TryDecodeHop(string value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Dictionary<string, object?>? hop)
    {
        hop = null;
        var table = new Dictionary<string, object?>(5, StringComparer.Ordinal);
        foreach (var pair in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !IsPercentEncoded(pair))
            {
                return false;
            }

            var key = Uri.UnescapeDataString(pair[..eq]);
            var text = Uri.UnescapeDataString(pair[(eq + 1)..]);
            // A redelivered that is not a boolean is data, as in an AMQP trail (RabbitMQ's plugin only writes it and never
            // reads it): kept as text. Refusing it made the whole trail malformed, so one foreign or hostile value turned
            // off max-hops and cycle detection for every other hop of the message.
            table[key] = key == RedeliveredField && bool.TryParse(text, out var flag) ? flag : text;
        }

        // Not vhost: the plugin's hops carried only uri, exchange and redelivered before they carried cluster-name and vhost,
        // and an AMQP trail counts such a hop toward max-hops like any other.
        if (!table.ContainsKey(UriField) || !table.ContainsKey(ExchangeField))
        {
            return false;
        }

        hop = table;
        return true;
    }

    /// <summary>Whether every <c>%</c> in <paramref name="text"/> starts an escape of two hex digits.</summary>
    private static bool IsPercentEncoded(ReadOnlySpan<char> text)
    {
        for (var i = text.IndexOf('%'); i >= 0; i = text.IndexOf('%'))
        {
            if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
            {
                return false;
            }

            text = text[(i + 3)..];
        }

        return true;
    }

    private static void AddTrail<TSink>(ref TSink sink, object? trail)
        where TSink : struct, IHeaderSink
    {
        if (trail is string malformed)
        {
            // Received malformed and not (yet) moved aside by a hop: passed on as it came, as any text header.
            if (IsHeaderValue(malformed))
            {
                sink.Add(ReceivedFromHeader, malformed);
            }

            return;
        }

        if (trail is not IList list)
        {
            return;
        }

        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is IEnumerable<KeyValuePair<string, object?>> table)
            {
                sink.Add(ReceivedFromHeader, EncodeHopCached(table));
            }
        }
    }

    private static void AppendField(StringBuilder builder, string key, object? value)
    {
        if (builder.Length > 0)
        {
            builder.Append(';');
        }

        builder.Append(Escape(key)).Append('=').Append(Escape(ToText(value) ?? ""));
    }

    // Trail fields repeat from message to message (the same few URIs, exchanges, cluster names), and escaping them is
    // most of the cost of encoding a hop: remember a bounded number of them.
    private static string Escape(string text)
    {
        if (EscapedFields.TryGetValue(text, out var escaped))
        {
            return escaped;
        }

        escaped = Uri.EscapeDataString(text);
        if (EscapedFields.Count < MaxEscapedFields)
        {
            EscapedFields.TryAdd(text, escaped);
        }

        return escaped;
    }

    /// <summary>Whether a header line can carry <paramref name="text"/> (NATS ends a header line at CR or LF).</summary>
    internal static bool IsHeaderValue(string text) =>
        !text.Contains('\r', StringComparison.Ordinal) && !text.Contains('\n', StringComparison.Ordinal);

    /// <summary>
    /// Whether <paramref name="key"/> names a property header that this message writes: then the property wins and the
    /// header is left out (NATS header names are case-insensitive, so both would end up as values of one header). An
    /// <c>amqp-*</c> header with any other name crosses like any header.
    /// </summary>
    private static bool CollidesWithWrittenProperty(MessageProperties properties, string key) =>
        TryParsePropertyName(key, out var property) && PropertyText(properties, property) is { } text && IsHeaderValue(text);

    /// <summary>Finds the property a header named <c>amqp-&lt;property&gt;</c> (any case) carries; no allocation.</summary>
    private static bool TryParsePropertyName(string key, out AmqpProperty property)
    {
        if (key.StartsWith(PropertyPrefix, StringComparison.OrdinalIgnoreCase))
        {
            for (property = AmqpProperty.First; property <= AmqpProperty.Last; property++)
            {
                if (key.Equals(PropertyHeader(property), StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        property = default;
        return false;
    }

    // Whole names, so that writing a property header allocates no key.
    private static string PropertyHeader(AmqpProperty property) => property switch
    {
        AmqpProperty.ContentType => PropertyPrefix + "content-type",
        AmqpProperty.ContentEncoding => PropertyPrefix + "content-encoding",
        AmqpProperty.CorrelationId => PropertyPrefix + "correlation-id",
        AmqpProperty.ReplyTo => PropertyPrefix + "reply-to",
        AmqpProperty.Expiration => PropertyPrefix + "expiration",
        AmqpProperty.MessageId => PropertyPrefix + "message-id",
        AmqpProperty.Type => PropertyPrefix + "type",
        AmqpProperty.UserId => PropertyPrefix + "user-id",
        AmqpProperty.AppId => PropertyPrefix + "app-id",
        AmqpProperty.Priority => PropertyPrefix + "priority",
        AmqpProperty.Timestamp => PropertyPrefix + "timestamp",
        AmqpProperty.Persistent => PropertyPrefix + "persistent",
        _ => throw new ArgumentOutOfRangeException(nameof(property)),
    };

    /// <summary>The header value a property is written as, or <see langword="null"/> when the message does not write it.</summary>
    private static string? PropertyText(MessageProperties properties, AmqpProperty property) => property switch
    {
        AmqpProperty.ContentType => properties.ContentType,
        AmqpProperty.ContentEncoding => properties.ContentEncoding,
        AmqpProperty.CorrelationId => properties.CorrelationId,
        AmqpProperty.ReplyTo => properties.ReplyTo,
        AmqpProperty.Expiration => properties.Expiration,
        AmqpProperty.MessageId => properties.MessageId,
        AmqpProperty.Type => properties.Type,
        AmqpProperty.UserId => properties.UserId,
        AmqpProperty.AppId => properties.AppId,
        AmqpProperty.Priority => properties.Priority?.ToString(CultureInfo.InvariantCulture),
        AmqpProperty.Timestamp => properties.UnixTimestamp?.ToString(CultureInfo.InvariantCulture),
        AmqpProperty.Persistent => properties.Persistent ? "true" : null,
        _ => throw new ArgumentOutOfRangeException(nameof(property)),
    };

    /// <summary>Sets a property from its header value; <see langword="false"/> when the value does not parse (the header is then kept as a header).</summary>
    private static bool TrySetProperty(MessageProperties properties, AmqpProperty property, string value)
    {
        switch (property)
        {
            case AmqpProperty.ContentType: properties.ContentType = value; return true;
            case AmqpProperty.ContentEncoding: properties.ContentEncoding = value; return true;
            case AmqpProperty.CorrelationId: properties.CorrelationId = value; return true;
            case AmqpProperty.ReplyTo: properties.ReplyTo = value; return true;
            case AmqpProperty.Expiration: properties.Expiration = value; return true;
            case AmqpProperty.MessageId: properties.MessageId = value; return true;
            case AmqpProperty.Type: properties.Type = value; return true;
            case AmqpProperty.UserId: properties.UserId = value; return true;
            case AmqpProperty.AppId: properties.AppId = value; return true;
            case AmqpProperty.Priority when byte.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var priority): properties.Priority = priority; return true;
            // Any 64-bit value, as AMQP carries it: one DateTimeOffset cannot hold is kept exactly (UnixTimestamp).
            case AmqpProperty.Timestamp when long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds): properties.UnixTimestamp = seconds; return true;
            case AmqpProperty.Persistent when bool.TryParse(value, out var persistent): properties.Persistent = persistent; return true; // true/false, any case
            default: return false;
        }
    }

    private static string? ToText(object? value) => value switch
    {
        null => null,
        string s => s,
        bool b => b ? "true" : "false",
        byte[] bytes => Convert.ToBase64String(bytes),
        NonUtf8String text => Convert.ToBase64String(text.Bytes.Span), // no NATS text form keeps them: base64, as binary
        DateTimeOffset t => t.ToString("O", CultureInfo.InvariantCulture),
        UnrepresentableTimestamp t => t.ToString(), // its seconds: no date form exists
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => null, // lists and tables have no NATS header form
    };

    private static bool IsValidKey(string key)
    {
        if (key.Length == 0)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (c <= ' ' || c >= 127 || c == ':')
            {
                return false;
            }
        }

        return true;
    }

    // A link prepends the same hop (same field strings) to every message it forwards: remember the last hop encoded on
    // this thread and reuse its text when the next one has the same fields. Only strings (compared by reference, so
    // equal content) and booleans qualify; a mutable value (byte[]) could change between messages, so it is not cached.
    private static string EncodeHopCached(IEnumerable<KeyValuePair<string, object?>> hop)
    {
        if (hop is not Dictionary<string, object?> table || table.Count > HopCache.MaxFields)
        {
            return EncodeHop(hop);
        }

        var cache = t_hopCache ??= new HopCache();
        if (cache.Encoded is { } cached && cache.Count == table.Count)
        {
            var i = 0;
            var same = true;
            foreach (var (key, value) in table)
            {
                if (!ReferenceEquals(cache.Keys[i], key) || !SameCachedValue(cache.Values[i], value))
                {
                    same = false;
                    break;
                }

                i++;
            }

            if (same)
            {
                return cached;
            }
        }

        var encoded = EncodeHop(table);
        var cacheable = true;
        var n = 0;
        foreach (var (key, value) in table)
        {
            cacheable &= value is null or string or bool;
            cache.Keys[n] = key;
            cache.Values[n] = value;
            n++;
        }

        cache.Count = n;
        cache.Encoded = cacheable ? encoded : null;
        return encoded;
    }

    private static bool SameCachedValue(object? cached, object? value) =>
        cached is bool flag ? value is bool other && flag == other : ReferenceEquals(cached, value);

    /// <summary>The fields of the last hop encoded on a thread, and its text (null: nothing to reuse).</summary>
    private sealed class HopCache
    {
        public const int MaxFields = 8;

        public string?[] Keys { get; } = new string?[MaxFields];

        public object?[] Values { get; } = new object?[MaxFields];

        public int Count { get; set; }

        public string? Encoded { get; set; }
    }

    /// <summary>The AMQP properties carried as <c>amqp-&lt;property&gt;</c> headers, in the order they are written.</summary>
    private enum AmqpProperty
    {
        ContentType,
        ContentEncoding,
        CorrelationId,
        ReplyTo,
        Expiration,
        MessageId,
        Type,
        UserId,
        AppId,
        Priority,
        Timestamp,
        Persistent,
        First = ContentType,
        Last = Persistent,
    }

    /// <summary>Where <see cref="Emit"/> puts each header.</summary>
    private interface IHeaderSink
    {
        /// <summary>Adds one header line.</summary>
        void Add(string key, string value);
    }

    /// <summary>Adds header lines to a <see cref="NatsHeaders"/>; several lines of one key become one multi-valued entry.</summary>
    private struct NatsHeadersSink(NatsHeaders? target) : IHeaderSink
    {
        public NatsHeaders? Headers { get; private set; } = target;

        public void Add(string key, string value)
        {
            var headers = Headers ??= [];
            if (headers.TryGetValue(key, out var existing))
            {
                headers[key] = StringValues.Concat(existing, value);
            }
            else
            {
                headers.Add(key, value);
            }
        }
    }
}
