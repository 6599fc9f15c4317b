using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Federation.Nats.JetStream;

/// <summary>What a JetStream publish's reply said: stored (a duplicate within the window counts), refused, or nobody answered.</summary>
internal enum JetStreamPubAckKind
{
    /// <summary>The stream stored the message (or already had one with its <c>Nats-Msg-Id</c>: <see cref="JetStreamPubAck.Duplicate"/>).</summary>
    Stored,

    /// <summary>The stream refused the message: <see cref="JetStreamPubAck.Error"/> says why.</summary>
    Refused,

    /// <summary>No stream captures the subject: the server answered with status 503 (no responders).</summary>
    NoResponders,

    /// <summary>The reply was neither a PubAck nor a status the publisher knows: <see cref="JetStreamPubAck.Error"/> shows it.</summary>
    Unreadable,
}

/// <summary>
/// Reads the reply to a JetStream publish straight from the client's buffers, without the client's JSON deserialiser or a
/// header dictionary: a PubAck (<c>{"stream":"S","seq":7}</c>, <c>"duplicate":true</c> when the window dropped it), an
/// error (<c>{"error":{"code":503,"err_code":10077,"description":"..."}}</c>), or a status-only header block
/// (<c>NATS/1.0 503</c>, no responders).
/// </summary>
/// <param name="Kind">What the reply said.</param>
/// <param name="Error">Why the stream refused it, or what the reply was instead of a PubAck.</param>
/// <param name="ErrorCode">The refusal's <c>err_code</c>.</param>
/// <param name="Duplicate">
/// A PubAck with <c>"duplicate":true</c>: the stream stored nothing, since it holds a message with the same
/// <c>Nats-Msg-Id</c> from within its duplicate window (this one again, or a different one with the same id).
/// </param>
/// <param name="Sequence">The PubAck's <c>seq</c>: the stored message's (for a duplicate, the one the stream already held).</param>
internal readonly record struct JetStreamPubAck(JetStreamPubAckKind Kind, string? Error = null, long? ErrorCode = null, bool Duplicate = false, ulong? Sequence = null)
{
    private static readonly byte[] StatusLinePrefix = "NATS/1.0"u8.ToArray();

    /// <summary>Reads one reply; never throws.</summary>
    public static JetStreamPubAck Read(ReadOnlySequence<byte>? headers, ReadOnlySequence<byte> payload)
    {
        if (headers is { } block && StatusOf(block) is { } status and not 200)
        {
            return status == 503
                ? new JetStreamPubAck(JetStreamPubAckKind.NoResponders)
                : new JetStreamPubAck(JetStreamPubAckKind.Unreadable, $"status {status} instead of a PubAck");
        }

        if (payload.IsEmpty)
        {
            return new JetStreamPubAck(JetStreamPubAckKind.Unreadable, "an empty reply instead of a PubAck");
        }

        try
        {
            return ReadJson(payload);
        }
        catch (JsonException)
        {
            return new JetStreamPubAck(JetStreamPubAckKind.Unreadable, "a reply that is not JSON instead of a PubAck");
        }
        catch (InvalidOperationException)
        {
            // Well-formed JSON whose string cannot be decoded (invalid UTF-8, a lone surrogate escape).
            return new JetStreamPubAck(JetStreamPubAckKind.Unreadable, "a PubAck whose text cannot be decoded");
        }
    }

    /// <summary>The status code of a header block's first line (<c>NATS/1.0 503</c>), or null when it has none.</summary>
    internal static int? StatusOf(ReadOnlySequence<byte> block)
    {
        Span<byte> line = stackalloc byte[16];
        var length = (int)Math.Min(block.Length, line.Length);
        block.Slice(0, length).CopyTo(line);
        line = line[..length];
        if (!line.StartsWith(StatusLinePrefix) || line.Length < StatusLinePrefix.Length + 4 || line[StatusLinePrefix.Length] != (byte)' ')
        {
            return null;
        }

        var code = 0;
        foreach (var digit in line.Slice(StatusLinePrefix.Length + 1, 3))
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return null;
            }

            code = (code * 10) + (digit - '0');
        }

        return code;
    }

    private static JetStreamPubAck ReadJson(ReadOnlySequence<byte> payload)
    {
        var reader = new Utf8JsonReader(payload);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return new JetStreamPubAck(JetStreamPubAckKind.Unreadable, "a reply that is not a JSON object instead of a PubAck");
        }

        var sawStream = false;
        var duplicate = false;
        ulong? sequence = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                var error = DescribeError(ref reader, out var errorCode);
                return new JetStreamPubAck(JetStreamPubAckKind.Refused, error, errorCode);
            }

            if (reader.ValueTextEquals("duplicate"u8))
            {
                reader.Read();
                duplicate = reader.TokenType == JsonTokenType.True;
                reader.Skip();
                continue;
            }

            if (reader.ValueTextEquals("seq"u8))
            {
                reader.Read();
                sequence = reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out var seq) ? seq : null;
                reader.Skip();
                continue;
            }

            sawStream |= reader.ValueTextEquals("stream"u8);
            reader.Read();
            reader.Skip();
        }

        return sawStream
            ? new JetStreamPubAck(JetStreamPubAckKind.Stored, Duplicate: duplicate, Sequence: sequence)
            : new JetStreamPubAck(JetStreamPubAckKind.Unreadable, "a JSON reply without a stream instead of a PubAck");
    }

    /// <summary>Formats an API error object as the publisher always has: its description, then its <c>err_code</c>.</summary>
    private static string DescribeError(ref Utf8JsonReader reader, out long? errCode)
    {
        errCode = null;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return "an error without details";
        }

        string? description = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("description"u8))
            {
                reader.Read();
                description = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("err_code"u8))
            {
                reader.Read();
                errCode = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) ? value : null;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        description ??= "no description";
        return errCode is { } known ? string.Create(CultureInfo.InvariantCulture, $"{description} (err_code {known})") : description;
    }
}
