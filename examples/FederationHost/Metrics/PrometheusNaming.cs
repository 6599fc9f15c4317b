using System.Text;

namespace FederationHost.Metrics;

/// <summary>Maps OpenTelemetry instrument names, units and tag keys to Prometheus metric and label names.</summary>
public static class PrometheusNaming
{
    /// <summary>
    /// The metric name: dots and other invalid characters become underscores, a unit suffix is added for the units
    /// Prometheus names by convention (<c>s</c>, <c>ms</c>, <c>By</c>; annotations such as <c>{message}</c> add nothing),
    /// and counters end in <c>_total</c>.
    /// </summary>
    public static string MetricName(string instrumentName, string? unit, MetricKind kind)
    {
        ArgumentNullException.ThrowIfNull(instrumentName);
        var name = Sanitize(instrumentName, allowColon: true);
        if (UnitSuffix(unit) is { } suffix && !name.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            name += "_" + suffix;
        }

        if (kind == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            name += "_total";
        }

        return name;
    }

    /// <summary>The label name: dots and other invalid characters become underscores.</summary>
    public static string LabelName(string tagKey)
    {
        ArgumentNullException.ThrowIfNull(tagKey);
        return Sanitize(tagKey, allowColon: false);
    }

    private static string? UnitSuffix(string? unit) => unit switch
    {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ => null,
    };

    /// <summary>Prometheus names match <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c> (labels without colons).</summary>
    private static string Sanitize(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return "_";
        }

        var builder = new StringBuilder(name.Length + 1);
        if (char.IsAsciiDigit(name[0]))
        {
            builder.Append('_');
        }

        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        }

        return builder.ToString();
    }
}
