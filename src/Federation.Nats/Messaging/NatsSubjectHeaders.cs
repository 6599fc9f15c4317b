using Microsoft.Extensions.Primitives;
using NATS.Client.Core;

namespace Federation.Nats.Messaging;

/// <summary>
/// Maps the subject SPI's ordered header fields to <see cref="NatsHeaders"/> and back. Every value of a name is kept, in order;
/// names keep the spelling first used and the order of their first appearance. NATS groups the values of a name together,
/// so fields interleaved by name (<c>a, b, a</c>) come back grouped (<c>a, a, b</c>).
/// </summary>
internal static class NatsSubjectHeaders
{
    /// <summary>The NATS headers of an outgoing message, or null when it has none (a plain PUB, no header block).</summary>
    public static NatsHeaders? ToNats(IReadOnlyList<KeyValuePair<string, string>>? fields)
    {
        if (fields is null || fields.Count == 0)
        {
            return null;
        }

        var headers = new NatsHeaders();
        for (var i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            headers[field.Key] = headers.TryGetValue(field.Key, out var earlier) ? StringValues.Concat(earlier, field.Value) : new StringValues(field.Value);
        }

        return headers;
    }

    /// <summary>The fields of an incoming message, or null when it had none (a status-only header block counts as none).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? FromNats(NatsHeaders? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return null;
        }

        var fields = new List<KeyValuePair<string, string>>(headers.Count);
        foreach (var (key, values) in headers)
        {
            for (var i = 0; i < values.Count; i++)
            {
                fields.Add(new KeyValuePair<string, string>(key, values[i] ?? string.Empty));
            }
        }

        return fields;
    }
}
