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
    string? ReplyTo = null);
