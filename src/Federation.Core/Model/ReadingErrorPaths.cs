namespace Federation.Core.Model;

/// <summary>
/// Makes reading and validation one report. Reading keeps what it could read of an entry that has errors, so that
/// validation judges the rest of it too: a value out of range next to an unknown key is reported in the same run, not
/// only once the unknown key is fixed. A validation error about a key that reading already reported, or inside an entry
/// that reading found unusable, is left out, so that each mistake is reported once.
/// </summary>
internal static class ReadingErrorPaths
{
    /// <summary>The errors of <paramref name="validationErrors"/> that no error of <paramref name="readingErrors"/> already covers.</summary>
    /// <param name="readingErrors">Errors of reading, each <c>path: message</c> (see <see cref="ConfigurationErrorText.At"/>).</param>
    /// <param name="validationErrors">Errors of validating what was read, alike.</param>
    public static IEnumerable<string> NotAlreadyReported(IEnumerable<string> readingErrors, IEnumerable<string> validationErrors)
    {
        var covered = readingErrors.Select(PathOf).Where(p => p.Length > 0).Select(p => p + ":").Distinct(StringComparer.Ordinal).ToList();
        return covered.Count == 0
            ? validationErrors
            : validationErrors.Where(error => !covered.Exists(prefix => error.StartsWith(prefix, StringComparison.Ordinal)));
    }

    /// <summary>Whether a reading error is about <paramref name="path"/> itself (not about a key inside it).</summary>
    public static bool IsAbout(IEnumerable<string> readingErrors, string path) =>
        readingErrors.Any(error => string.Equals(PathOf(error), path, StringComparison.Ordinal));

    // Errors read "path: message"; the key path is what comes before the first ": ".
    private static string PathOf(string error)
    {
        var end = error.IndexOf(": ", StringComparison.Ordinal);
        return end < 0 ? string.Empty : error[..end];
    }
}
