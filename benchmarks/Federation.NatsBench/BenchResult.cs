namespace Federation.NatsBench;

/// <summary>One measured path: messages per second and publish-to-delivery latency percentiles.</summary>
internal sealed record BenchResult(string Name, int Count, int Size, double Seconds, double P50Ms, double P99Ms)
{
    public double MessagesPerSecond => Count / Seconds;

    /// <summary>The run with the median throughput (its latencies come with it).</summary>
    public static BenchResult Median(IReadOnlyList<BenchResult> runs) => runs.OrderBy(r => r.MessagesPerSecond).ElementAt(runs.Count / 2);

    /// <summary>Builds a result from per-message latencies (sorted in place).</summary>
    public static BenchResult From(string name, int size, double seconds, double[] latenciesMs)
    {
        Array.Sort(latenciesMs);
        return new BenchResult(name, latenciesMs.Length, size, seconds, latenciesMs[latenciesMs.Length / 2], latenciesMs[(int)(latenciesMs.Length * 0.99)]);
    }
}
