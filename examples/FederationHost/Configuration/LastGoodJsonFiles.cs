using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace FederationHost.Configuration;

/// <summary>Swaps the framework's JSON file sources (appsettings.json, appsettings.{Environment}.json) for last-good ones.</summary>
public static class LastGoodJsonFiles
{
    /// <summary>
    /// Replaces every <see cref="JsonConfigurationSource"/> in <paramref name="builder"/> by a
    /// <see cref="LastGoodJsonConfigurationSource"/> with the same path, optional flag, reload flag, delay and file
    /// provider, in the same position (so precedence is unchanged).
    /// </summary>
    /// <exception cref="HostConfigurationException">A file cannot be read now.</exception>
    public static void Use(IConfigurationBuilder builder, RefusedFileChanges refused)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(refused);
        for (var i = 0; i < builder.Sources.Count; i++)
        {
            if (builder.Sources[i] is JsonConfigurationSource { Path: { } path } json && json.GetType() == typeof(JsonConfigurationSource))
            {
                builder.Sources[i] = new LastGoodJsonConfigurationSource(refused)
                {
                    Path = path,
                    Optional = json.Optional,
                    ReloadOnChange = json.ReloadOnChange,
                    ReloadDelay = json.ReloadDelay,
                    FileProvider = json.FileProvider,
                };
            }
        }
    }
}
