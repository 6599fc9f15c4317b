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
    private static readonly string[] ExampleKeys = ["FederationUri", "BrokerInstances", "TimeoutSeconds", "PrintMetrics", "Collectives"];
    private static readonly string[] CollectiveKeys = ["Uri", "Nodes"];

    /// <summary>Reads the <c>Example</c> section.</summary>
    /// <exception cref="ExampleSettingsException">A key is unknown (a misspelt key would otherwise be ignored), or a value is missing or wrong.</exception>
    public static ExampleSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection("Example");
        RefuseUnknownKeys(section, ExampleKeys);
        foreach (var collective in section.GetSection("Collectives").GetChildren())
        {
            RefuseUnknownKeys(collective, CollectiveKeys);
        }

        var collectives = section.GetSection("Collectives").GetChildren()
            .Select(c => new CollectiveSettings(
                c.Key,
                Required(c, "Uri"),
                (c["Nodes"] ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            .ToList();
        if (collectives.Count == 0)
        {
            throw new ExampleSettingsException("Example:Collectives: at least one collective is required.");
        }

        return new ExampleSettings(
            Required(section, "FederationUri"),
            Number(section, "BrokerInstances", 1),
            TimeSpan.FromSeconds(Number(section, "TimeoutSeconds", 5)),
            bool.TryParse(section["PrintMetrics"], out var print) && print,
            collectives);
    }

    private static string Required(IConfigurationSection section, string key) =>
        section[key] is { Length: > 0 } value ? value : throw new ExampleSettingsException($"{section.Path}:{key} is required.");

    private static int Number(IConfigurationSection section, string key, int fallback)
    {
        if (section[key] is not { } text)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ExampleSettingsException($"{section.Path}:{key}: '{text}' must be a positive integer.");
    }

    private static void RefuseUnknownKeys(IConfigurationSection section, string[] known)
    {
        // Configuration keys match case-insensitively, as the binder reads them.
        if (section.GetChildren().FirstOrDefault(child => !known.Contains(child.Key, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            throw new ExampleSettingsException($"{unknown.Path} is not a recognised key; known keys: {string.Join(", ", known)}");
        }
    }
}

/// <summary>One member collective: its server and the simulated nodes started in it.</summary>
internal sealed record CollectiveSettings(string Name, string Uri, IReadOnlyList<string> Nodes);
