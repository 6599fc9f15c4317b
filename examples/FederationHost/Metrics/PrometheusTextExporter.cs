using System.Globalization;
using System.Text;

namespace FederationHost.Metrics;

/// <summary>
/// Renders instrument snapshots in the Prometheus text exposition format 0.0.4. The output is deterministic: families
/// sorted by metric name, samples by their label text, labels by name; so two scrapes of unchanged values are identical.
/// </summary>
public static class PrometheusTextExporter
{
    /// <summary>The Content-Type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Renders <paramref name="instruments"/>. Instruments that map to the same metric name are merged into one family (the first one's type and help win).</summary>
    public static string Render(IEnumerable<InstrumentSnapshot> instruments)
    {
        ArgumentNullException.ThrowIfNull(instruments);
        var families = new SortedDictionary<string, Family>(StringComparer.Ordinal);
        foreach (var instrument in instruments)
        {
            var name = PrometheusNaming.MetricName(instrument.Name, instrument.Unit, instrument.Kind);
            if (!families.TryGetValue(name, out var family))
            {
                family = new Family(instrument.Kind, instrument.Description);
                families.Add(name, family);
            }

            foreach (var point in instrument.Points)
            {
                var labels = Labels(point.Tags);
                // Tag keys that collapse to one label name, or merged instruments, can collide: the sum keeps counters right.
                family.Samples[labels] = family.Samples.TryGetValue(labels, out var existing)
                    ? (existing.Value + point.Value, existing.Count + point.Count)
                    : (point.Value, point.Count);
            }
        }

        var text = new StringBuilder();
        foreach (var (name, family) in families)
        {
            if (!string.IsNullOrEmpty(family.Help))
            {
                text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(family.Help)).Append('\n');
            }

            text.Append("# TYPE ").Append(name).Append(' ').Append(TypeName(family.Kind)).Append('\n');
            foreach (var (labels, sample) in family.Samples)
            {
                if (family.Kind == MetricKind.Summary)
                {
                    text.Append(name).Append("_sum").Append(labels).Append(' ').Append(FormatValue(sample.Value)).Append('\n');
                    text.Append(name).Append("_count").Append(labels).Append(' ').Append(sample.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }
                else
                {
                    text.Append(name).Append(labels).Append(' ').Append(FormatValue(sample.Value)).Append('\n');
                }
            }
        }

        return text.ToString();
    }

    /// <summary>Escapes a label value: backslash, double quote and line feed.</summary>
    public static string EscapeLabelValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal);
    }

    /// <summary>Escapes HELP text: backslash and line feed (quotes are literal there).</summary>
    public static string EscapeHelp(string help)
    {
        ArgumentNullException.ThrowIfNull(help);
        return help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    /// <summary>Formats a sample value: shortest round-trip form, and Prometheus's spelling of NaN and infinities.</summary>
    public static string FormatValue(double value) => value switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string TypeName(MetricKind kind) => kind switch
    {
        MetricKind.Counter => "counter",
        MetricKind.Summary => "summary",
        _ => "gauge",
    };

    private static string Labels(IReadOnlyList<KeyValuePair<string, string>> tags)
    {
        if (tags.Count == 0)
        {
            return string.Empty;
        }

        var labels = tags
            .Select(t => (Name: PrometheusNaming.LabelName(t.Key), t.Value))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => $"{t.Name}=\"{EscapeLabelValue(t.Value)}\"");
        return "{" + string.Join(',', labels) + "}";
    }

    private sealed class Family(MetricKind kind, string? help)
    {
        public MetricKind Kind { get; } = kind;
        public string? Help { get; } = help;
        public SortedDictionary<string, (double Value, long Count)> Samples { get; } = new(StringComparer.Ordinal);
    }
}
