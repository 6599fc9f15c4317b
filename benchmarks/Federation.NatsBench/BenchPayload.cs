using System.Buffers.Binary;
using System.Diagnostics;

namespace Federation.NatsBench;

/// <summary>
/// The first bytes of every benchmark message: the Stopwatch timestamp at publish (publisher and subscriber share this
/// process, so one clock), the message's sequence number in its run, and the run's id. The sequence number is what
/// lets the subscriber count lost and duplicated messages instead of stalling on them; the run id keeps a late
/// message of an earlier run out of the next run's count.
/// </summary>
internal static class BenchPayload
{
    /// <summary>The smallest payload that carries the stamp, the sequence number and the run id.</summary>
    public const int MinimumSize = sizeof(long) + sizeof(int) + sizeof(int);

    public static void Write(Span<byte> payload, int run, int sequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(payload, Stopwatch.GetTimestamp());
        BinaryPrimitives.WriteInt32LittleEndian(payload[8..], sequence);
        BinaryPrimitives.WriteInt32LittleEndian(payload[12..], run);
    }

    /// <summary>False for a probe (a message too short to carry a stamp).</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out int run, out int sequence, out double elapsedMs)
    {
        if (payload.Length < MinimumSize)
        {
            (run, sequence, elapsedMs) = (0, 0, 0);
            return false;
        }

        elapsedMs = Stopwatch.GetElapsedTime(BinaryPrimitives.ReadInt64LittleEndian(payload)).TotalMilliseconds;
        sequence = BinaryPrimitives.ReadInt32LittleEndian(payload[8..]);
        run = BinaryPrimitives.ReadInt32LittleEndian(payload[12..]);
        return true;
    }
}
