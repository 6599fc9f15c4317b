namespace FederationHost.Metrics;

/// <summary>One aggregated value of an instrument for one tag set.</summary>
/// <param name="Tags">The measurement's tags, sorted by key (ordinal), values as invariant strings.</param>
/// <param name="Value">The sum (counters, up-down counters, summaries) or the last observed value (gauges).</param>
/// <param name="Count">The number of measurements (summaries); 0 for the other kinds.</param>
public sealed record MetricPoint(IReadOnlyList<KeyValuePair<string, string>> Tags, double Value, long Count = 0);
