using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Collectives;

/// <summary>The example's <c>Example</c> configuration section (appsettings.json, overridable on the command line).</summary>
/// <param name="FederationUri">The federation's server.</param>
/// <param name="BrokerInstances">Broker instances per collective (they share the work through queue groups).</param>
/// <param name="Timeout">How long the client waits for replies.</param>
/// <param name="PrintMetrics">Print the broker metrics at the end.</param>
/// <param name="Collectives">The member collectives by broker cluster name.</param>
internal sealed record ExampleSettings(string FederationUri, int BrokerInstances, TimeSpan Timeout, bool PrintMetrics, IReadOnlyList<CollectiveSettings> Collectives)
{
    public static ExampleSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection("Example");
        var collectives = section.GetSection("Collectives").GetChildren()
            .Select(c => new CollectiveSettings(
                c.Key,
                Required(c, "Uri"),
                (c["Nodes"] ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            .ToList();
        if (collectives.Count == 0)
        {
            throw new InvalidOperationException("Example:Collectives: at least one collective is required.");
        }

        return new ExampleSettings(
            Required(section, "FederationUri"),
            Number(section, "BrokerInstances", 1),
            TimeSpan.FromSeconds(Number(section, "TimeoutSeconds", 5)),
            bool.TryParse(section["PrintMetrics"], out var print) && print,
            collectives);
    }

    private static string Required(IConfigurationSection section, string key) =>
        section[key] is { Length: > 0 } value ? value : throw new InvalidOperationException($"{section.Path}:{key} is required.");

    private static int Number(IConfigurationSection section, string key, int fallback)
    {
        if (section[key] is not { } text)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new InvalidOperationException($"{section.Path}:{key}: '{text}' must be a positive integer.");
    }
}

/// <summary>One member collective: its server and the simulated nodes started in it.</summary>
internal sealed record CollectiveSettings(string Name, string Uri, IReadOnlyList<string> Nodes);
