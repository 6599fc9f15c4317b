using System.Globalization;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace FederationHost.Configuration;

/// <summary>
/// Checks of the shape of a configuration section that binding alone does not do: unknown keys, a section where a
/// value belongs and the other way round, and lists. Each problem names the full key. Values are shown redacted, as
/// anything here may be a URI with credentials.
/// </summary>
internal static class ConfigurationShape
{
    /// <summary>A problem for each child of <paramref name="section"/> that is not one of <paramref name="known"/> (case-insensitive).</summary>
    public static void RejectUnknownKeys(IConfigurationSection section, IReadOnlyList<string> known, ICollection<string> problems)
    {
        foreach (var child in section.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{child.Path} is not a recognised key; known keys: {string.Join(", ", known)}");
            }
        }
    }

    /// <summary>True when <paramref name="section"/> holds a non-empty single value where a section belongs (reported).</summary>
    public static bool RejectValue(IConfigurationSection section, string expected, ICollection<string> problems)
    {
        // An empty JSON array or "" reads as an empty value: nothing was set, so there is nothing to refuse.
        if (string.IsNullOrEmpty(section.Value))
        {
            return false;
        }

        problems.Add($"{section.Path}: '{Show(section.Value)}' is a single value, but {section.Path} must be {expected}");
        return true;
    }

    /// <summary>The single value at <paramref name="section"/>, or null when unset or when it is a section (reported).</summary>
    public static string? Value(IConfigurationSection section, string expected, ICollection<string> problems)
    {
        if (section.GetChildren().Any())
        {
            problems.Add($"{section.Path} must be {expected}, not a section");
            return null;
        }

        return string.IsNullOrEmpty(section.Value) ? null : section.Value;
    }

    /// <summary>A boolean value: <paramref name="fallback"/> when unset, otherwise exactly true or false (case-insensitive).</summary>
    public static bool Boolean(IConfigurationSection section, bool fallback, ICollection<string> problems)
    {
        var text = Value(section, "true or false", problems);
        if (text is null || string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (bool.TryParse(text, out var value))
        {
            return value;
        }

        problems.Add($"{section.Path}: '{Show(text)}' is not true or false");
        return fallback;
    }

    /// <summary>A list of non-empty strings (a JSON array, or keys 0, 1, ... from other sources), without duplicates.</summary>
    public static IReadOnlyList<string> StringList(IConfigurationSection section, string example, ICollection<string> problems)
    {
        if (RejectValue(section, $"a list, such as {example}", problems))
        {
            return [];
        }

        var items = new List<string>();
        foreach (var child in section.GetChildren())
        {
            if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                problems.Add($"{section.Path} must be a list, such as {example}, not a section with the key '{child.Key}'");
                continue;
            }

            var item = Value(child, "a string", problems);
            if (item is null || item.Trim().Length == 0)
            {
                if (!child.GetChildren().Any())
                {
                    problems.Add($"{child.Path}: an empty string is not a name");
                }

                continue;
            }

            if (!items.Contains(item, StringComparer.Ordinal))
            {
                items.Add(item);
            }
        }

        return items;
    }

    /// <summary>Whether every source that gives <paramref name="key"/> a non-empty value is an environment variable.</summary>
    public static bool IsOnlyFromEnvironmentVariables(IConfiguration configuration, string key)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return false;
        }

        var sources = root.Providers.Where(p => p.TryGet(key, out var value) && !string.IsNullOrEmpty(value)).ToList();
        return sources.Count > 0 && sources.All(p => p is EnvironmentVariablesConfigurationProvider);
    }

    /// <summary>A value as it may appear in an error: without credentials, and cut short when long.</summary>
    public static string Show(string value)
    {
        var redacted = UriRedaction.Redact(value);
        if (redacted.Contains('@', StringComparison.Ordinal))
        {
            // Still something that looks like user information (a password with an unencoded '/', say): show none of it.
            var scheme = redacted.IndexOf("://", StringComparison.Ordinal);
            return scheme > 0 ? redacted[..(scheme + 3)] + "<redacted>" : "<redacted>";
        }

        return redacted.Length <= 200 ? redacted : string.Concat(redacted.AsSpan(0, 200), "...");
    }
}
