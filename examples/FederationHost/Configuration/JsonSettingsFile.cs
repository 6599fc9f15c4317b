using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace FederationHost.Configuration;

/// <summary>
/// Reads one JSON settings file into configuration keys with the framework's own JSON configuration parser (the one
/// <c>AddJsonFile</c> uses, so keys, arrays and empty sections come out exactly the same), and says in one line why a
/// file cannot be used instead of throwing.
/// </summary>
internal static class JsonSettingsFile
{
    /// <summary>Reads <paramref name="file"/>; false with the reason when it cannot be read, is empty or is not a JSON object without duplicate keys.</summary>
    public static bool TryRead(
        IFileInfo file,
        [NotNullWhen(true)] out IDictionary<string, string?>? data,
        [NotNullWhen(false)] out string? problem)
    {
        data = null;
        byte[] content;
        try
        {
            using var stream = OpenRead(file);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            content = copy.ToArray();
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            problem = "the file cannot be read: " + error.Message;
            return false;
        }

        // An empty file is a half-written file far more often than a wish for no settings; "{}" says the latter.
        if (IsBlank(content))
        {
            problem = "the file is empty (write {} for a file without settings)";
            return false;
        }

        try
        {
            data = FrameworkJsonParser.Parse(new MemoryStream(content, writable: false));

            // After the framework's parse, which reports syntax, depth and duplicate values in its own words.
            if (DuplicateSectionNames.Find(content) is { } duplicate)
            {
                data = null;
                problem = Describe(new FormatException(duplicate));
                return false;
            }

            problem = null;
            return true;
        }
        catch (Exception error) when (error is FormatException or JsonException or ArgumentException or InvalidOperationException)
        {
            problem = Describe(error);
            return false;
        }
    }

    /// <summary>One line for a JSON parse error, as thrown by the framework's JSON configuration provider or parser.</summary>
    public static string Describe(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            JsonException json => "not valid JSON: " + json.Message,
            FormatException { InnerException: JsonException json } => "not valid JSON: " + json.Message,
            FormatException duplicate when duplicate.Message.StartsWith("A duplicate key", StringComparison.Ordinal) =>
                // The framework compares keys ignoring case, so two upstreams "up" and "Up" collide; say so, since the
                // file shows two different names.
                duplicate.Message + " Keys are compared ignoring case, so names that differ only in case (an upstream 'up' and 'Up', say) are the same key.",
            _ => error.Message,
        };
    }

    /// <summary>The start-up error for a settings file, in the framework's wording so that both read the same.</summary>
    public static string LoadFailure(string path, string problem) => $"Failed to load configuration from file '{path}': {problem}";

    private static bool IsBlank(byte[] content)
    {
        var span = content.AsSpan();
        if (span.StartsWith("\uFEFF"u8))
        {
            span = span[3..];
        }

        return span.Trim(" \t\r\n"u8).IsEmpty;
    }

    // As the framework's file provider does: a physical file is opened with FileShare.ReadWrite so that an editor
    // still holding the file does not make the read fail.
    private static Stream OpenRead(IFileInfo file) => file.PhysicalPath is { } path
        ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.SequentialScan)
        : file.CreateReadStream();

    /// <summary>The framework's JSON stream provider, used only for its parser: <c>Load</c> fills <c>Data</c>, which is protected.</summary>
    private sealed class FrameworkJsonParser() : JsonStreamConfigurationProvider(new JsonStreamConfigurationSource())
    {
        public static IDictionary<string, string?> Parse(Stream stream)
        {
            var parser = new FrameworkJsonParser();
            parser.Load(stream);
            return parser.Data;
        }
    }
}
