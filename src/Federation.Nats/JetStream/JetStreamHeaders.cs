using Federation.Core.Transport;
using Federation.Nats.Transport;
using Microsoft.Extensions.Primitives;
using ClientHeaders = NATS.Client.Core.NatsHeaders;
using MappedHeaders = Federation.Nats.Client.NatsHeaders;

namespace Federation.Nats.JetStream;

/// <summary>
/// Message properties to and from the official client's headers, through the transport's one mapping
/// (<see cref="NatsMessageMapping"/>), plus the JetStream headers: <c>Nats-Msg-Id</c> is carried on every hop, and the
/// publish expectations of the original producer (<c>Nats-Expected-*</c>, <c>Nats-Rollup</c>) are not, since they were
/// meant for the upstream stream and would make a downstream stream refuse or purge.
/// </summary>
/// <remarks>
/// Until <see cref="NatsMessageMapping"/> speaks the official header type itself, the headers are copied through the
/// mapping's own type; after that, both methods are direct calls.
/// </remarks>
internal static class JetStreamHeaders
{
    /// <summary>The header JetStream deduplicates by.</summary>
    public const string MessageId = "Nats-Msg-Id";

    /// <summary>The headers to publish for <paramref name="properties"/>, or null when there are none.</summary>
    public static ClientHeaders? ToClientHeaders(MessageProperties properties)
    {
        var mapped = NatsMessageMapping.ToNatsHeaders(properties);
        if (mapped is null)
        {
            return null;
        }

        var headers = new ClientHeaders();
        foreach (var (key, values) in mapped)
        {
            if (IsProducerExpectation(key))
            {
                continue;
            }

            headers[key] = values.Count == 1 ? new StringValues(values[0]) : new StringValues([.. values]);
        }

        return headers.Count == 0 ? null : headers;
    }

    /// <summary>The properties of a consumed message.</summary>
    public static MessageProperties ToProperties(ClientHeaders? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return new MessageProperties();
        }

        var mapped = new MappedHeaders();
        foreach (var (key, values) in headers)
        {
            foreach (var value in values)
            {
                if (value is not null)
                {
                    mapped.Add(key, value);
                }
            }
        }

        return NatsMessageMapping.ToProperties(mapped);
    }

    private static bool IsProducerExpectation(string key) =>
        key.StartsWith("Nats-Expected-", StringComparison.OrdinalIgnoreCase) || key.Equals("Nats-Rollup", StringComparison.OrdinalIgnoreCase);
}
