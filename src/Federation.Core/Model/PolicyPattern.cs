using System.Text.RegularExpressions;

namespace Federation.Core.Model;

/// <summary>
/// Compiles the regular expressions of policies (<c>pattern</c>, <c>federation-upstream-pattern</c>). Like RabbitMQ's,
/// they match anywhere in the name unless anchored. A match timeout bounds catastrophic backtracking, because patterns
/// come from configuration and run on every exchange.
/// </summary>
internal static class PolicyPattern
{
    /// <summary>Longest time one match may take before it counts as no match.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Compiles <paramref name="pattern"/>, or explains why it does not compile.</summary>
    public static bool TryCompile(string pattern, out Regex? regex, out string? error)
    {
        try
        {
            regex = new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout);
            error = null;
            return true;
        }
        catch (RegexParseException e)
        {
            // The exception message repeats the pattern; the error kind and offset identify the problem without it.
            regex = null;
            error = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{e.Error} at offset {e.Offset}");
            return false;
        }
    }

    /// <summary>Compiles a pattern that validation already accepted.</summary>
    public static Regex Compile(string pattern) =>
        TryCompile(pattern, out var regex, out var error) ? regex! : throw new ArgumentException(error, nameof(pattern));

    /// <summary>
    /// Whether <paramref name="regex"/> matches <paramref name="input"/>. A match that times out counts as no match:
    /// resolution must not fail for one pathological pattern, and the pattern is the operator's to fix.
    /// </summary>
    public static bool IsMatch(Regex regex, string input)
    {
        try
        {
            return regex.IsMatch(input);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}
