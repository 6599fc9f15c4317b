using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Logging;

namespace FederationHost.Configuration;

/// <summary>
/// Warns when a settings file changes keys that a later configuration source also sets (the command line, environment
/// variables, appsettings.{Environment}.json): configuration takes the later source's value, so such a change has no
/// effect, and the reload that follows the save, finding the running configuration, says nothing. A black-box run
/// (7 Dec 2026) edited <c>prefetch-count</c> in appsettings.json of a host started with
/// <c>--Federation:Upstreams:u1b:prefetch-count=300</c>: the links kept 300 and nothing was logged.
/// </summary>
public static partial class OverriddenFileChanges
{
    // One line per save, however many keys: a list of thousands would make one line of megabytes.
    private const int MaxKeysLogged = 20;

    /// <summary>Watches every last-good settings file of <paramref name="configuration"/> and logs to <paramref name="logger"/>.</summary>
    public static void Watch(IConfigurationRoot configuration, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(logger);
        var providers = configuration.Providers.ToList();
        for (var i = 0; i < providers.Count; i++)
        {
            if (providers[i] is LastGoodJsonConfigurationProvider file)
            {
                // Later providers win (configuration reads them last to first).
                var later = providers.Skip(i + 1).ToList();
                file.KeysChanged += keys => Report(logger, file.FileName, keys, later);
            }
        }
    }

    private static void Report(ILogger logger, string file, IReadOnlyList<string> keys, IReadOnlyList<IConfigurationProvider> later)
    {
        var hidden = keys
            .Select(key => (Key: key, By: later.LastOrDefault(p => p.TryGet(key, out _))))
            .Where(k => k.By is not null)
            .Select(k => $"{k.Key} ({Describe(k.By!)})")
            .ToList();
        if (hidden.Count == 0)
        {
            return;
        }

        // Keys and where they come from, never values: a URI's password would be in them.
        var listed = string.Join("; ", hidden.Take(MaxKeysLogged)) + (hidden.Count > MaxKeysLogged ? $"; and {hidden.Count - MaxKeysLogged} more" : string.Empty);
        LogOverridden(logger, file, hidden.Count, listed);
    }

    private static string Describe(IConfigurationProvider provider) => provider switch
    {
        CommandLineConfigurationProvider => "the command line",
        EnvironmentVariablesConfigurationProvider => "an environment variable",
        LastGoodJsonConfigurationProvider other => $"'{other.FileName}'",
        _ => provider.GetType().Name,
    };

    [LoggerMessage(EventId = 5012, Level = LogLevel.Warning,
        Message = "Configuration file '{File}' changed {Count} setting(s) that a later configuration source also sets, which wins: " +
            "these changes have no effect. {Keys}. Change them there, or remove them there to let the file decide " +
            "(the command line and environment variables are read at start only)")]
    private static partial void LogOverridden(ILogger logger, string file, int count, string keys);
}
