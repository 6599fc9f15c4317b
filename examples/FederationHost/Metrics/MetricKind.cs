namespace FederationHost.Metrics;

/// <summary>How an instrument is exported: Prometheus only distinguishes monotonic counters from gauges here.</summary>
public enum MetricKind
{
    /// <summary>A monotonic sum (Counter, ObservableCounter); exported with the <c>_total</c> suffix.</summary>
    Counter,

    /// <summary>A value that can go down (gauges and up-down counters).</summary>
    Gauge,
}
