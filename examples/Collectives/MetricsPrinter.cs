using System.Globalization;
using FederationHost.Metrics;

namespace Collectives;

/// <summary>
/// Prints the broker's instruments as plain lines, one per instrument and tag set. FederationHost serves the same
/// instruments in the Prometheus format through the OpenTelemetry SDK; this console demo has no scrape endpoint.
/// </summary>
internal static class MetricsPrinter
{
    public static void Print(IEnumerable<InstrumentSnapshot> instruments, TextWriter output)
    {
        foreach (var instrument in instruments.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var unit = string.IsNullOrEmpty(instrument.Unit) ? "" : $" ({instrument.Unit})";
            output.WriteLine($"{instrument.Name}{unit}");
            foreach (var point in instrument.Points)
            {
                var tags = string.Join(", ", point.Tags.Select(t => $"{t.Key}={t.Value}"));
                var value = point.Value.ToString(CultureInfo.InvariantCulture);
                var count = instrument.Kind == MetricKind.Summary ? $" over {point.Count.ToString(CultureInfo.InvariantCulture)} measurements" : "";
                output.WriteLine($"  {(tags.Length == 0 ? "-" : tags)}: {value}{count}");
            }
        }
    }
}
