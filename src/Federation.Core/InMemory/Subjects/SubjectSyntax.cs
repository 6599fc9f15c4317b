namespace Federation.Core.InMemory.Subjects;

/// <summary>
/// NATS subject rules: dot-separated non-empty tokens without whitespace; <c>*</c> is a whole token matching exactly one
/// token, <c>&gt;</c> is a whole last token matching one or more. Publish subjects have no wildcards.
/// </summary>
internal static class SubjectSyntax
{
    /// <summary>The single-token wildcard.</summary>
    public const string SingleToken = "*";

    /// <summary>The tail wildcard.</summary>
    public const string Tail = ">";

    /// <summary>Why <paramref name="subject"/> is not a valid subscription subject, or null when it is.</summary>
    public static string? SubscribeError(string? subject) => Error(subject, allowWildcards: true);

    /// <summary>Why <paramref name="subject"/> is not a valid publish subject (wildcards included), or null when it is.</summary>
    public static string? PublishError(string? subject) => Error(subject, allowWildcards: false);

    /// <summary>True when <paramref name="subject"/> is a valid subject without wildcards.</summary>
    public static bool IsValidPublishSubject(string? subject) => PublishError(subject) is null;

    /// <exception cref="ArgumentException">The subject is invalid; the message names it and says why.</exception>
    public static void ThrowIfInvalidSubscribe(string? subject, string paramName) => ThrowIf(SubscribeError(subject), subject, paramName);

    /// <exception cref="ArgumentException">The subject is invalid or has wildcards; the message names it and says why.</exception>
    public static void ThrowIfInvalidPublish(string? subject, string paramName) => ThrowIf(PublishError(subject), subject, paramName);

    /// <summary>True when <paramref name="subject"/> (no wildcards) matches the subscription <paramref name="patternTokens"/>.</summary>
    public static bool Matches(string[] patternTokens, string subject)
    {
        var position = 0;
        for (var i = 0; i < patternTokens.Length; i++)
        {
            if (position > subject.Length)
            {
                return false; // the subject ran out of tokens
            }

            var end = subject.IndexOf('.', position);
            if (end < 0)
            {
                end = subject.Length;
            }

            var pattern = patternTokens[i];
            if (pattern == Tail)
            {
                return true; // '>' is last and the subject has at least one token left here
            }

            if (pattern != SingleToken && !subject.AsSpan(position, end - position).SequenceEqual(pattern))
            {
                return false;
            }

            position = end + 1;
        }

        return position > subject.Length; // every subject token consumed
    }

    /// <summary>True when the subject contains a wildcard token.</summary>
    public static bool HasWildcard(string subject)
    {
        foreach (var token in subject.Split('.'))
        {
            if (token is SingleToken or Tail)
            {
                return true;
            }
        }

        return false;
    }

    private static void ThrowIf(string? error, string? subject, string paramName)
    {
        if (error is not null)
        {
            throw new ArgumentException($"Invalid subject '{subject}': {error}.", paramName);
        }
    }

    private static string? Error(string? subject, bool allowWildcards)
    {
        if (string.IsNullOrEmpty(subject))
        {
            return "a subject must not be empty";
        }

        var tokens = subject.Split('.');
        for (var i = 0; i < tokens.Length; i++)
        {
            var token = tokens[i];
            if (token.Length == 0)
            {
                return "empty token (leading, trailing or doubled '.')";
            }

            foreach (var c in token)
            {
                if (char.IsWhiteSpace(c) || char.IsControl(c))
                {
                    return "whitespace or control characters are not allowed";
                }
            }

            if (token is SingleToken or Tail)
            {
                if (!allowWildcards)
                {
                    return "wildcards ('*', '>') are not allowed here";
                }

                if (token == Tail && i != tokens.Length - 1)
                {
                    return "'>' must be the last token";
                }
            }
            else if (token.Contains('*', StringComparison.Ordinal) || token.Contains('>', StringComparison.Ordinal))
            {
                return "a wildcard must be a whole token";
            }
        }

        return null;
    }
}
