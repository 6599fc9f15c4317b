using System.Buffers.Binary;
using System.Diagnostics;

namespace Federation.NatsBench;

/// <summary>The first 8 bytes of every benchmark message: the Stopwatch timestamp at publish (publisher and subscriber share this process).</summary>
internal static class LatencyStamp
{
    public const int Size = sizeof(long);

    public static void Write(Span<byte> payload) => BinaryPrimitives.WriteInt64LittleEndian(payload, Stopwatch.GetTimestamp());

    /// <summary>Milliseconds since the stamp was written, or null for a probe (a message too short to carry a stamp).</summary>
    public static double? ElapsedMs(ReadOnlySpan<byte> payload) =>
        payload.Length < Size ? null : Stopwatch.GetElapsedTime(BinaryPrimitives.ReadInt64LittleEndian(payload)).TotalMilliseconds;
}
