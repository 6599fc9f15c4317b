using Federation.Core.Transport;
using Federation.Nats.Transport;
using ClientHeaders = NATS.Client.Core.NatsHeaders;

namespace Federation.Nats.JetStream;

/// <summary>
/// Message properties to and from the official client's headers, through the transport's one mapping
/// (<see cref="NatsMessageMapping"/>), plus the JetStream headers: <c>Nats-Msg-Id</c> is carried on every hop, and the
/// publish expectations of the original producer (<c>Nats-Expected-*</c>, <c>Nats-Rollup</c>) are not, since they were
/// meant for the upstream stream and would make a downstream stream refuse or purge. A message without <c>Nats-Msg-Id</c>
/// whose producer set the AMQP <c>message-id</c> property (an AMQP upstream's publisher) gets it as its <c>Nats-Msg-Id</c>.
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

        // The producer's message-id is the message's identity, as the ledger of an AMQP downstream takes it: without it
        // here, each redelivery from an AMQP upstream (after a crash, a restart, a PubAck that did not come in time) was
        // stored again by the JetStream downstream, which deduplicates only by Nats-Msg-Id. An AMQP message-id may hold CR
        // or LF, which no header line can: the client refused CR LF (failing the publish, so the link restarted over it and
        // it came back first, for ever) and wrote a bare LF, which began another header. Such an id is no identity here.
        if (ProducerMessageIdOf(properties) is { } producerId && !target.ContainsKey(MessageId))
        {
            target[MessageId] = producerId;
        }

        return target.Count == 0 ? null : target;
    }

    /// <summary>The <c>Nats-Msg-Id</c> a publish of <paramref name="properties"/> carries (<see cref="WriteClientHeaders"/>), or null.</summary>
    public static string? MessageIdOf(MessageProperties properties)
    {
        if (properties.Headers is { Count: > 0 } headers && headers.TryGetValue(MessageId, out var value) && value is not null)
        {
            return value switch
            {
                string text => text,
                byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
                _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        return ProducerMessageIdOf(properties);
    }

    /// <summary>The AMQP <c>message-id</c> a message sends as its <c>Nats-Msg-Id</c>: null when absent or not writable in a header line.</summary>
    private static string? ProducerMessageIdOf(MessageProperties properties) =>
        string.IsNullOrEmpty(properties.MessageId) || !NatsMessageMapping.IsHeaderValue(properties.MessageId) ? null : properties.MessageId;

    public static MessageProperties ToProperties(ClientHeaders? headers) => NatsMessageMapping.ToProperties(headers);

    private static bool IsProducerExpectation(string key) =>
        key.StartsWith("Nats-Expected-", StringComparison.OrdinalIgnoreCase) || key.Equals("Nats-Rollup", StringComparison.OrdinalIgnoreCase);
}
