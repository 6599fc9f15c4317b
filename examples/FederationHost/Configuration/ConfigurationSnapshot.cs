using Microsoft.Extensions.Configuration;

namespace FederationHost.Configuration;

/// <summary>
/// The keys and values of some sections as configuration holds them after every source, in a stable order: two equal
/// snapshots mean the sections did not change, which is how the start-only sections tell a real change from a repeated
/// notification of one save.
/// </summary>
internal static class ConfigurationSnapshot
{
    public static string Of(IConfiguration configuration, params string[] sections) => string.Join(
        '\n',
        sections.SelectMany(s => configuration.GetSection(s).AsEnumerable())
            .OrderBy(e => e.Key, StringComparer.OrdinalIgnoreCase)
            .Select(e => e.Key + "=" + e.Value));
}
