namespace Federation.NatsBench;

/// <summary>
/// Every round of one path: each column is the median over the rounds on its own, and lost and duplicated messages
/// are summed over all rounds, so one bad round shows.
/// </summary>
internal sealed class PathRuns(string name)
{
    private readonly List<BenchResult> _runs = [];

    public string Name => name;

    public IReadOnlyList<BenchResult> Runs => _runs;

    public void Add(BenchResult run) => _runs.Add(run);

    public double MessagesPerSecond => Median(r => r.MessagesPerSecond);

    public double P50Ms => Median(r => r.P50Ms);

    public double P99Ms => Median(r => r.P99Ms);

    public double CpuMsPer100k => Median(r => r.CpuMsPer100k);

    public long Sent => _runs.Sum(r => (long)r.Sent);

    public long Lost => _runs.Sum(r => (long)r.Lost);

    public long Duplicates => _runs.Sum(r => (long)r.Duplicates);

    /// <summary>
    /// The median over rounds of <paramref name="path"/>'s column divided by <paramref name="reference"/>'s in the same
    /// round: less sensitive than the ratio of medians to load that comes and goes between rounds.
    /// </summary>
    public static double MedianRatio(PathRuns path, PathRuns reference, Func<BenchResult, double> column) =>
        Median(path._runs.Zip(reference._runs, (p, r) => column(p) / column(r)));

    private double Median(Func<BenchResult, double> column) => Median(_runs.Select(column));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
