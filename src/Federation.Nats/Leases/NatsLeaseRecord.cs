using System.Text.Json;

namespace Federation.Nats.Leases;

/// <summary>
/// The value of a lease key: who holds it, and the subject on which the holder's connection answers while it lives (see
/// <see cref="NatsKvLeases"/>). Stored as a small JSON object so that <c>nats kv get</c> shows it readably.
/// </summary>
/// <param name="Holder">The holder's name (<see cref="Core.Transport.LeaseRequest.Holder"/>).</param>
/// <param name="AliveSubject">The holder connection's liveness subject, or null when unknown.</param>
internal sealed record NatsLeaseRecord(string Holder, string? AliveSubject)
{
    private const string HolderProperty = "holder";
    private const string AliveProperty = "alive";

    /// <summary>The record as UTF-8 JSON.</summary>
    public byte[] ToBytes()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString(HolderProperty, Holder);
            if (AliveSubject is not null)
            {
                writer.WriteString(AliveProperty, AliveSubject);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads a lease value; null when it is not one (a key someone else wrote into the bucket).</summary>
    public static NatsLeaseRecord? FromBytes(ReadOnlyMemory<byte>? value)
    {
        if (value is not { Length: > 0 } bytes)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(HolderProperty, out var holder) || holder.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            var alive = root.TryGetProperty(AliveProperty, out var subject) && subject.ValueKind == JsonValueKind.String ? subject.GetString() : null;
            return new NatsLeaseRecord(holder.GetString()!, alive);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
