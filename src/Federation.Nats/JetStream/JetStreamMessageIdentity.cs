using System.Globalization;
using NATS.Client.JetStream;

namespace Federation.Nats.JetStream;

/// <summary>
/// The <c>Nats-Msg-Id</c> a durable link gives a message that has none of its own:
/// <c>&lt;upstream&gt;:&lt;stream&gt;:&lt;stream sequence&gt;:&lt;stored at, Unix nanoseconds&gt;</c>, where the upstream is the
/// URI's <c>cluster-name</c> or else the time the stream was created, in Unix nanoseconds (<see cref="UpstreamOf"/>).
/// </summary>
/// <remarks>
/// <para>The upstream part must be the same in every redelivery of a message, or the downstream's duplicate window cannot
/// match it; it must also differ between two upstreams that feed one downstream. The server's name is neither: a
/// nats-server started without <c>-n</c> is named after its <c>server_id</c>, new on every restart, and a cluster
/// delivers from another node after a failover, so every message redelivered after a restart got a new id and was stored
/// twice. The stream's creation time is kept in the store, the same on every node, and tells two upstreams' streams
/// apart (to the 100 ns the client reads it with).</para>
/// <para>The sequence alone names a message only within one incarnation of the stream: a stream that is deleted and created
/// again (by the link, by an operator, or by an upstream server that restarted with an empty store) numbers from 1 again,
/// and a downstream would drop its new messages as duplicates of the old ones within its duplicate window, while the link
/// took their PubAcks (<c>duplicate: true</c>) as confirmed. The time the stream stored the message tells the
/// incarnations apart, and it is the same in every redelivery of that message (it is the stored message's, from the ack
/// reply subject), so a redelivery is still dropped. The client's parsed <see cref="NatsJSMsgMetadata.Timestamp"/> keeps
/// only milliseconds, so the nanoseconds are read from the reply subject itself.</para>
/// </remarks>
internal static class JetStreamMessageIdentity
{
    /// <summary>The identity of a message of <paramref name="metadata"/>'s stream, delivered with <paramref name="replyTo"/>.</summary>
    public static string Of(string upstream, NatsJSMsgMetadata metadata, string? replyTo)
    {
        // One string per message: the stored-at token is copied from the reply subject as a span, and the numbers are
        // written into spans first. Handed to the interpolation as numbers, they went through its generic formatting,
        // which the runtime's profiling tier compiles with a box (24 B more per message) until the method is optimized.
        Span<char> sequence = stackalloc char[20];
        metadata.Sequence.Stream.TryFormat(sequence, out var sequenceLength, default, CultureInfo.InvariantCulture);
        var (start, length) = StoredAtToken(replyTo);
        if (start >= 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{upstream}:{metadata.Stream}:{sequence[..sequenceLength]}:{replyTo.AsSpan(start, length)}");
        }

        Span<char> storedAt = stackalloc char[20];
        ((metadata.Timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100).TryFormat(storedAt, out var storedAtLength, default, CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{upstream}:{metadata.Stream}:{sequence[..sequenceLength]}:{storedAt[..storedAtLength]}");
    }

    /// <summary>
    /// Whether <paramref name="messageId"/> has the form of an identity a durable link made (<see cref="Of"/>), on this hop or
    /// an earlier one: <c>&lt;upstream&gt;:&lt;stream&gt;:&lt;digits&gt;:&lt;digits&gt;</c>. Such an id names one stored message
    /// of one stream incarnation, so a downstream that already holds it holds this message: the duplicate is a redelivery.
    /// Any other id is the producer's own, which another producer (another upstream's, say) may reuse for a different message.
    /// </summary>
    public static bool IsLinkBuilt(ReadOnlySpan<char> messageId)
    {
        // From the right: the upstream part may hold ':' (a cluster-name), the others cannot.
        var storedAt = messageId.LastIndexOf(':');
        if (storedAt < 0 || !IsNumber(messageId[(storedAt + 1)..]))
        {
            return false;
        }

        var rest = messageId[..storedAt];
        var sequence = rest.LastIndexOf(':');
        if (sequence < 0 || !IsNumber(rest[(sequence + 1)..]))
        {
            return false;
        }

        rest = rest[..sequence];
        var stream = rest.LastIndexOf(':');
        return stream > 0 && stream < rest.Length - 1;
    }

    private static bool IsNumber(ReadOnlySpan<char> token) => token.Length is > 0 and <= 20 && !token.ContainsAnyExceptInRange('0', '9');

    /// <summary>The upstream part of the identities of a stream's messages when the URI names no <c>cluster-name</c>: when the stream was created, in Unix nanoseconds.</summary>
    public static string UpstreamOf(DateTimeOffset streamCreated) =>
        ((streamCreated.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The timestamp token of an ack reply subject (ADR-15): <c>$JS.ACK.&lt;stream&gt;.&lt;consumer&gt;.&lt;delivered&gt;.&lt;stream seq&gt;.&lt;consumer seq&gt;.&lt;timestamp&gt;.&lt;pending&gt;</c>,
    /// or with the domain and account hash after <c>ACK</c> (11 or 12 tokens); null when the subject has neither form.
    /// </summary>
    internal static string? StoredAtNanoseconds(string? replyTo)
    {
        var (start, length) = StoredAtToken(replyTo);
        return start >= 0 ? replyTo!.Substring(start, length) : null;
    }

    /// <summary>Where <see cref="StoredAtNanoseconds"/> is in <paramref name="replyTo"/>: start and length, or (-1, 0).</summary>
    private static (int Start, int Length) StoredAtToken(string? replyTo)
    {
        if (replyTo is null || !replyTo.StartsWith("$JS.ACK.", StringComparison.Ordinal))
        {
            return (-1, 0);
        }

        // Token boundaries without splitting: this runs for every message a durable link forwards.
        Span<int> dots = stackalloc int[12];
        var count = 0;
        for (var i = 0; i < replyTo.Length; i++)
        {
            if (replyTo[i] == '.')
            {
                if (count == dots.Length)
                {
                    return (-1, 0);
                }

                dots[count++] = i;
            }
        }

        var index = (count + 1) switch
        {
            9 => 7,
            11 or 12 => 9,
            _ => -1,
        };
        if (index < 0)
        {
            return (-1, 0);
        }

        var start = dots[index - 1] + 1;
        var token = replyTo.AsSpan(start, dots[index] - start);
        return token.Length > 0 && !token.ContainsAnyExceptInRange('0', '9') ? (start, token.Length) : (-1, 0);
    }
}
