using System.Globalization;
using System.Text.RegularExpressions;

namespace Federation.Core.Model;

/// <summary>
/// Compiles the regular expressions of policies (<c>pattern</c>, <c>federation-upstream-pattern</c>). Like RabbitMQ's,
/// they match anywhere in the name unless anchored. Patterns come from configuration and run on every exchange, so they
/// are compiled with <see cref="RegexOptions.NonBacktracking"/>: matching takes time linear in the name whatever the
/// pattern, so there is no catastrophic backtracking, no match timeout, and no match that silently counts as a non-match.
/// The price is that constructs only a backtracking engine can run (backreferences, lookarounds, atomic groups,
/// conditionals, balancing groups) are rejected when the configuration is validated.
/// </summary>
internal static class PolicyPattern
{
    /// <summary>Compiles <paramref name="pattern"/>, or explains why it cannot be used (a sentence that does not repeat the pattern).</summary>
    public static bool TryCompile(string pattern, out Regex? regex, out string? error)
    {
        try
        {
            // An explicit infinite timeout: a process-wide default (REGEX_DEFAULT_MATCH_TIMEOUT) must not reintroduce
            // timeouts, which would count as non-matches. Linear-time matching needs none.
            regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, Regex.InfiniteMatchTimeout);
            error = null;
            return true;
        }
        catch (RegexParseException e)
        {
            // The exception message repeats the pattern; the error kind and offset identify the problem without it.
            regex = null;
            error = string.Create(CultureInfo.InvariantCulture, $"is not a valid regular expression: {e.Error} at offset {e.Offset}");
            return false;
        }
        catch (NotSupportedException e)
        {
            regex = null;
            error = "cannot be matched in linear time (backreferences, lookarounds, atomic groups, conditionals and "
                + "balancing groups are not supported, so that no pattern can stall matching): " + e.Message;
            return false;
        }
    }

    /// <summary>Compiles a pattern that validation already accepted.</summary>
    public static Regex Compile(string pattern) =>
        TryCompile(pattern, out var regex, out var error) ? regex! : throw new ArgumentException(error, nameof(pattern));
}
