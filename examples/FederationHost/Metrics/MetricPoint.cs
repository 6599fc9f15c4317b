namespace FederationHost.Metrics;

/// <summary>One aggregated value of an instrument for one tag set.</summary>
/// <param name="Tags">The measurement's tags, sorted by key (ordinal), values as invariant strings.</param>
/// <param name="Value">The sum (counters, up-down counters) or the last observed value (gauges).</param>
public sealed record MetricPoint(IReadOnlyList<KeyValuePair<string, string>> Tags, double Value);
