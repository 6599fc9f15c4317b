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

    private double Median(Func<BenchResult, double> column)
    {
        if (_runs.Count == 0)
        {
            return double.NaN;
        }

        var sorted = _runs.Select(column).Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
