namespace Federation.Core.Model;

/// <summary>
/// Finds the accepted key that an unrecognised one was probably meant to be, for the "did you mean" of a configuration
/// error. rabbitmqctl spells keys in kebab case, and the usual slips are another spelling of the same words
/// (<c>max_hops</c>, <c>MaxHops</c>, <c>maxhops</c>) or a typo of a letter or two (<c>max-hop</c>, <c>prefech-count</c>).
/// </summary>
internal static class KeySuggestion
{
    // Beyond this many edits a suggestion is more likely to mislead than to help.
    private const int MaxEdits = 2;

    /// <summary>The accepted key closest to <paramref name="key"/>, or null when none is close enough.</summary>
    public static string? Find(string key, IEnumerable<string> accepted)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(accepted);
        var wanted = Normalise(key);
        string? best = null;
        var bestEdits = MaxEdits + 1;
        foreach (var candidate in accepted)
        {
            var edits = Distance(wanted, Normalise(candidate), bestEdits);
            if (edits < bestEdits)
            {
                (best, bestEdits) = (candidate, edits);
            }
        }

        return best;
    }

    /// <summary>
    /// "; did you mean 'X'?" for an error that already lists every accepted key (a misspelt section name such as
    /// <c>Polices</c> is easier to spot named than in the list), or "" when no accepted key is close.
    /// </summary>
    public static string DidYouMean(string key, IEnumerable<string> accepted) =>
        Find(key, accepted) is { } suggestion ? $"; did you mean '{suggestion}'?" : "";

    /// <summary>Lower case letters and digits only: <c>Max_Hops</c>, <c>max-hops</c> and <c>maxhops</c> read alike.</summary>
    private static string Normalise(string key)
    {
        Span<char> buffer = key.Length <= 128 ? stackalloc char[key.Length] : new char[key.Length];
        var length = 0;
        foreach (var c in key)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                buffer[length++] = char.ToLowerInvariant(c);
            }
        }

        return new string(buffer[..length]);
    }

    /// <summary>Levenshtein distance, giving up (returning <paramref name="limit"/>) once it cannot be below it.</summary>
    private static int Distance(string a, string b, int limit)
    {
        if (Math.Abs(a.Length - b.Length) >= limit)
        {
            return limit;
        }

        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            var rowMin = current[0];
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
                rowMin = Math.Min(rowMin, current[j]);
            }

            if (rowMin >= limit)
            {
                return limit;
            }

            (previous, current) = (current, previous);
        }

        return Math.Min(previous[b.Length], limit);
    }
}
