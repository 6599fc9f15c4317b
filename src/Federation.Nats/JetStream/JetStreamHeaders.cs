using Federation.Core.Transport;
using Federation.Nats.Transport;
using ClientHeaders = NATS.Client.Core.NatsHeaders;

namespace Federation.Nats.JetStream;

/// <summary>
/// Message properties to and from the official client's headers, through the transport's one mapping
/// (<see cref="NatsMessageMapping"/>), plus the JetStream headers: <c>Nats-Msg-Id</c> is carried on every hop, and the
/// publish expectations of the original producer (<c>Nats-Expected-*</c>, <c>Nats-Rollup</c>) are not, since they were
/// meant for the upstream stream and would make a downstream stream refuse or purge.
/// </summary>
internal static class JetStreamHeaders
{
    /// <summary>The header JetStream deduplicates by.</summary>
    public const string MessageId = "Nats-Msg-Id";

    /// <summary>The headers to publish for <paramref name="properties"/>, or null when there are none.</summary>
    public static ClientHeaders? ToClientHeaders(MessageProperties properties)
    {
        // A new object per call: the JetStream publisher may write a message after the next call has built its headers.
        var headers = NatsMessageMapping.ToNatsHeaders(properties);
        if (headers is null)
        {
            return null;
        }

        foreach (var key in headers.Keys.Where(IsProducerExpectation).ToList())
        {
            headers.Remove(key);
        }

        return headers.Count == 0 ? null : headers;
    }

    public static MessageProperties ToProperties(ClientHeaders? headers) => NatsMessageMapping.ToProperties(headers);

    private static bool IsProducerExpectation(string key) =>
        key.StartsWith("Nats-Expected-", StringComparison.OrdinalIgnoreCase) || key.Equals("Nats-Rollup", StringComparison.OrdinalIgnoreCase);
}
