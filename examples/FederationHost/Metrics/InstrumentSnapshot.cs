namespace FederationHost.Metrics;

/// <summary>One instrument's aggregated values at collection time, still in OpenTelemetry naming.</summary>
/// <param name="MeterName">The meter that owns the instrument.</param>
/// <param name="Name">The instrument name, for example <c>federation.link.messages.forwarded</c>.</param>
/// <param name="Unit">The instrument's unit (UCUM), or null.</param>
/// <param name="Description">The instrument's description, or null.</param>
/// <param name="Kind">Counter or gauge.</param>
/// <param name="Points">One value per tag set.</param>
public sealed record InstrumentSnapshot(
    string MeterName,
    string Name,
    string? Unit,
    string? Description,
    MetricKind Kind,
    IReadOnlyList<MetricPoint> Points);
