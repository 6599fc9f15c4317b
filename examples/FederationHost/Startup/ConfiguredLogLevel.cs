using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace FederationHost.Startup;

/// <summary>
/// The minimum level <c>Logging:LogLevel</c> sets for a category, found as the logging framework finds it: the longest
/// category prefix, else <c>Default</c>, else Information. Used where a decision is needed without a logger: before the
/// host exists, or when the host failed to build.
/// </summary>
internal static class ConfiguredLogLevel
{
    /// <summary>The category of the host's own messages; at Debug, start-up errors print their exception too.</summary>
    public const string HostCategory = "FederationHost";

    public static LogLevel For(IConfiguration configuration, string category)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(category);
        var bestLength = -1;
        var level = LogLevel.Information;
        foreach (var rule in configuration.GetSection("Logging:LogLevel").GetChildren())
        {
            if (!Enum.TryParse<LogLevel>(rule.Value, ignoreCase: true, out var ruleLevel))
            {
                continue;
            }

            var length = string.Equals(rule.Key, "Default", StringComparison.OrdinalIgnoreCase) ? 0
                : category.StartsWith(rule.Key, StringComparison.OrdinalIgnoreCase) ? rule.Key.Length
                : -1;
            if (length > bestLength)
            {
                bestLength = length;
                level = ruleLevel;
            }
        }

        return level;
    }

    /// <summary>Whether debug logging is on for the host (<c>Logging:LogLevel:Default</c> or <c>Logging:LogLevel:FederationHost</c> at Debug or Trace).</summary>
    public static bool IsDebugOn(IConfiguration configuration) => For(configuration, HostCategory) <= LogLevel.Debug;
}
