namespace Federation.NatsBench;

/// <summary>
/// One measured run of one path. <see cref="Received"/> counts distinct messages that arrived; <see cref="Lost"/> is
/// what was sent and never arrived (always printed, never hidden); latencies are publish-to-delivery.
/// </summary>
internal sealed record BenchResult(string Name, int Size, int Sent, int Received, int Duplicates, double Seconds, double P50Ms, double P99Ms, double CpuMs)
{
    public int Lost => Sent - Received;

    public double MessagesPerSecond => Received / Seconds;

    /// <summary>CPU time of both servers and this process per 100,000 messages delivered (NaN when not measured).</summary>
    public double CpuMsPer100k => Received == 0 ? double.NaN : CpuMs * 100_000 / Received;

    /// <summary>Builds a result from the latencies of the distinct messages that arrived (sorted in place).</summary>
    public static BenchResult From(string name, int size, int sent, int duplicates, double seconds, double[] latenciesMs, int received, double cpuMs)
    {
        Array.Sort(latenciesMs, 0, received);
        return new BenchResult(name, size, sent, received, duplicates, seconds, Percentile(latenciesMs, received, 0.50), Percentile(latenciesMs, received, 0.99), cpuMs);
    }

    private static double Percentile(double[] sorted, int length, double fraction) => length == 0 ? double.NaN : sorted[Math.Min(length - 1, (int)(length * fraction))];
}
