namespace FederationHost.Metrics;

/// <summary>How an instrument is exported: monotonic counters, gauges, and distributions as summaries.</summary>
public enum MetricKind
{
    /// <summary>A monotonic sum (Counter, ObservableCounter); exported with the <c>_total</c> suffix.</summary>
    Counter,

    /// <summary>A value that can go down (gauges and up-down counters).</summary>
    Gauge,

    /// <summary>
    /// A distribution (Histogram), exported as a Prometheus summary without quantiles: <c>_sum</c> and <c>_count</c>,
    /// the shape Choria's <c>choria_federation_time</c> has. Rates and means come from those two in PromQL.
    /// </summary>
    Summary,
}
