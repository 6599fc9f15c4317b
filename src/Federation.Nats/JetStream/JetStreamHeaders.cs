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

    /// <summary>
    /// Writes the headers to publish for <paramref name="properties"/> into <paramref name="target"/> (emptied first), so that a
    /// publisher can reuse one object; returns <paramref name="target"/>, or null when there are none.
    /// </summary>
    public static ClientHeaders? WriteClientHeaders(MessageProperties properties, ClientHeaders target)
    {
        target.Clear();
        NatsMessageMapping.WriteHeaders(properties, target);
        List<string>? expectations = null;
        foreach (var key in target.Keys)
        {
            if (IsProducerExpectation(key))
            {
                (expectations ??= []).Add(key);
            }
        }

        if (expectations is not null)
        {
            foreach (var key in expectations)
            {
                target.Remove(key);
            }
        }

        return target.Count == 0 ? null : target;
    }

    public static MessageProperties ToProperties(ClientHeaders? headers) => NatsMessageMapping.ToProperties(headers);

    private static bool IsProducerExpectation(string key) =>
        key.StartsWith("Nats-Expected-", StringComparison.OrdinalIgnoreCase) || key.Equals("Nats-Rollup", StringComparison.OrdinalIgnoreCase);
}
