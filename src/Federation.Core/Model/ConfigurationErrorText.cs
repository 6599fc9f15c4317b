using Federation.Core.Transport;

namespace Federation.Core.Model;

/// <summary>
/// How configuration errors are phrased: <c>key:path: message</c>, with key paths in rabbitmqctl spelling joined by
/// <c>:</c> as <see cref="Microsoft.Extensions.Configuration.IConfiguration"/> joins them, and every quoted value passed
/// through <see cref="UriRedaction.Redact(string)"/> so that no error ever carries credentials.
/// </summary>
internal static class ConfigurationErrorText
{
    /// <summary>Appends <paramref name="key"/> to <paramref name="path"/>; an empty path is the document root.</summary>
    public static string Child(string path, string key) => path.Length == 0 ? key : path + ":" + key;

    /// <summary>Appends a list index to <paramref name="path"/>.</summary>
    public static string Child(string path, int index) =>
        Child(path, index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>An error about the value at <paramref name="path"/>.</summary>
    public static string At(string path, string message) => path.Length == 0 ? message : path + ": " + message;

    /// <summary>A value as shown in an error: quoted, credentials removed.</summary>
    public static string Quote(string value) => "'" + UriRedaction.Redact(value) + "'";

    /// <summary>The error for a key the object does not accept, in the plugin's "Unrecognised terms" wording.</summary>
    public static string Unrecognised(string path) => At(path, "Unrecognised terms: not a recognised key");

    /// <summary>
    /// The same, naming the accepted key that <paramref name="key"/> was probably meant to be (<c>max_hops</c>: did you
    /// mean 'max-hops'?), when one is close.
    /// </summary>
    public static string Unrecognised(string path, string key, IEnumerable<string> accepted) =>
        KeySuggestion.Find(key, accepted) is { } suggestion
            ? At(path, $"Unrecognised terms: not a recognised key; did you mean '{suggestion}'?")
            : Unrecognised(path);

    /// <summary>The error for a mandatory key that is missing.</summary>
    public static string Missing(string path) => At(path, "is mandatory but missing");
}
