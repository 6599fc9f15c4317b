namespace Federation.Core.Transport.Messaging;

/// <summary>A message on a subject-addressed transport.</summary>
/// <param name="Subject">The subject it was published to (no wildcards).</param>
/// <param name="Body">The payload, passed through untouched.</param>
/// <param name="Headers">
/// Ordered header fields; a name may repeat (NATS headers are multi-valued). Null when the message has none. Names are
/// case-sensitive on the wire; compare them with <see cref="StringComparer.OrdinalIgnoreCase"/> when reading.
/// </param>
/// <param name="ReplyTo">The transport-level reply subject, or null.</param>
public sealed record SubjectMessage(
    string Subject,
    ReadOnlyMemory<byte> Body,
    IReadOnlyList<KeyValuePair<string, string>>? Headers = null,
    string? ReplyTo = null)
{
    /// <summary>
    /// True when this is no message but the transport's notice that a message published with <see cref="Subject"/> as its
    /// <see cref="ReplyTo"/> reached no subscriber at all (NATS's "no responders", status 503; the in-memory bus does the
    /// same; AMQP from RabbitMQ's basic.return of a mandatory publish). Such a notice goes to the publishing connection only, at one of its plain (not queue group) subscriptions
    /// that match the reply subject, with an empty body, no headers and no reply subject, so that a requester can give up
    /// at once instead of waiting for its timeout. A transport that cannot know never sends one. Ignored on publish:
    /// a published message always arrives as an ordinary one.
    /// </summary>
    public bool IsNoResponders { get; init; }
}
