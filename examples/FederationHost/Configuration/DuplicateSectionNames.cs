using System.Text.Json;

namespace FederationHost.Configuration;

/// <summary>
/// Finds a JSON property name that appears twice in one object (compared ignoring case, as configuration keys are) where
/// the framework's JSON configuration parser does not: it refuses two values for one key, but two sections of one name
/// (<c>"Upstreams": { "a": ... }</c> and later <c>"Upstreams": {}</c>, or <c>"Upstreams": { "b": ... }</c>) only add keys
/// under one path, so it merges them without a word. An operator who appends a section to replace the one above (as a
/// JSON reader that keeps the last value would) would then run the union of both: the links meant to go would keep running,
/// or ones from an old block would come back. Such a file is refused as any other duplicate key is.
/// </summary>
internal static class DuplicateSectionNames
{
    // The framework's JSON configuration provider reads with these options: the same file must parse the same way here.
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The framework's wording for the first duplicate found (<c>A duplicate key 'Federation:Upstreams' was found.</c>), or null.</summary>
    public static string? Find(ReadOnlyMemory<byte> content)
    {
        using var document = JsonDocument.Parse(content, Options);
        return Find(document.RootElement, prefix: null);
    }

    private static string? Find(JsonElement element, string? prefix)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var property in element.EnumerateObject())
                {
                    var path = prefix is null ? property.Name : prefix + ":" + property.Name;
                    if (!seen.Add(property.Name))
                    {
                        return $"A duplicate key '{path}' was found.";
                    }

                    if (Find(property.Value, path) is { } nested)
                    {
                        return nested;
                    }
                }

                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Find(item, (prefix ?? string.Empty) + ":" + index.ToString(System.Globalization.CultureInfo.InvariantCulture)) is { } nested)
                    {
                        return nested;
                    }

                    index++;
                }

                return null;
            default:
                return null;
        }
    }
}
