namespace Federation.Core.Addressing;

/// <summary>
/// The NATS subject grammar, the one implementation that every subject transport (NATS, AMQP through a topic exchange, the
/// in-memory bus), the NATS mapping of exchanges and the collective broker share: dot-separated non-empty tokens without
/// whitespace or control characters; in a subscription the token <c>*</c> matches exactly one token and a last token
/// <c>&gt;</c> matches one or more. Publish subjects have no wildcards. Pure and allocation-free.
/// </summary>
/// <remarks>
/// Each caller words its own exception around <see cref="Describe"/> (naming the subject), and adds the limits of its own
/// transport (for example AMQP's literal <c>#</c> and 255-byte keys) after the grammar's checks.
/// </remarks>
public static class SubjectGrammar
{
    /// <summary>The single-token wildcard.</summary>
    public const string SingleTokenWildcard = "*";

    /// <summary>The tail wildcard: one or more tokens, only as the last token.</summary>
    public const string TailWildcard = ">";

    /// <summary>The first thing wrong with <paramref name="subject"/>, in token order, or <see cref="SubjectProblem.None"/>.</summary>
    /// <param name="subject">The subject; null reads as empty.</param>
    /// <param name="use">Publish subjects may not have wildcards; subscription subjects may.</param>
    /// <param name="wildcardsMustBeWholeTokens">
    /// Also refuse <c>*</c> and <c>&gt;</c> inside a longer token (<see cref="SubjectProblem.WildcardInsideToken"/>). NATS
    /// reads <c>a.b*</c> as a literal token; the in-memory bus and the collective broker refuse it so that a subject never
    /// looks like a wildcard it is not.
    /// </param>
    /// <returns>The problem, or <see cref="SubjectProblem.None"/> when the subject is valid.</returns>
    public static SubjectProblem FindProblem(string? subject, SubjectUse use, bool wildcardsMustBeWholeTokens = false)
    {
        if (string.IsNullOrEmpty(subject))
        {
            return SubjectProblem.Empty;
        }

        var rest = subject.AsSpan();
        while (true)
        {
            var dot = rest.IndexOf('.');
            var last = dot < 0;
            var token = last ? rest : rest[..dot];
            if (token.IsEmpty)
            {
                return SubjectProblem.EmptyToken;
            }

            foreach (var c in token)
            {
                if (char.IsWhiteSpace(c) || char.IsControl(c))
                {
                    return SubjectProblem.WhitespaceOrControl;
                }
            }

            if (token is SingleTokenWildcard or TailWildcard)
            {
                if (use == SubjectUse.Publish)
                {
                    return SubjectProblem.WildcardInPublish;
                }

                if (token is TailWildcard && !last)
                {
                    return SubjectProblem.TailNotLast;
                }
            }
            else if (wildcardsMustBeWholeTokens && token.ContainsAny('*', '>'))
            {
                return SubjectProblem.WildcardInsideToken;
            }

            if (last)
            {
                return SubjectProblem.None;
            }

            rest = rest[(dot + 1)..];
        }
    }

    /// <summary>Why <paramref name="subject"/> is invalid, as <see cref="Describe"/> words it, or null when it is valid.</summary>
    /// <param name="subject">The subject; null reads as empty.</param>
    /// <param name="use">Publish subjects may not have wildcards; subscription subjects may.</param>
    /// <param name="wildcardsMustBeWholeTokens">As for <see cref="FindProblem"/>.</param>
    /// <returns>The reason, or <see langword="null"/>.</returns>
    public static string? Explain(string? subject, SubjectUse use, bool wildcardsMustBeWholeTokens = false) =>
        FindProblem(subject, use, wildcardsMustBeWholeTokens) is var problem and not SubjectProblem.None ? Describe(problem) : null;

    /// <summary>
    /// A clause that says what is wrong, to follow the subject in a message: <c>Invalid subject 'a..b': it has an empty
    /// token (a leading, trailing or doubled '.')</c>.
    /// </summary>
    /// <param name="problem">The problem.</param>
    /// <returns>The clause, lower case, without a final period.</returns>
    public static string Describe(SubjectProblem problem) => problem switch
    {
        SubjectProblem.None => "it is valid",
        SubjectProblem.Empty => "it is empty",
        SubjectProblem.EmptyToken => "it has an empty token (a leading, trailing or doubled '.')",
        SubjectProblem.WhitespaceOrControl => "it contains whitespace or a control character",
        SubjectProblem.WildcardInPublish => "wildcards ('*', '>') are only allowed in subscriptions",
        SubjectProblem.TailNotLast => "'>' must be the last token",
        SubjectProblem.WildcardInsideToken => "a wildcard ('*', '>') must be a whole token",
        _ => throw new ArgumentOutOfRangeException(nameof(problem), problem, "Unknown subject problem."),
    };

    /// <summary>Whether <paramref name="subject"/> has a wildcard token (<c>*</c> or <c>&gt;</c>).</summary>
    /// <param name="subject">A subject.</param>
    /// <returns><see langword="true"/> when a whole token is a wildcard; characters inside longer tokens do not count.</returns>
    public static bool HasWildcard(ReadOnlySpan<char> subject)
    {
        while (true)
        {
            var dot = subject.IndexOf('.');
            var token = dot < 0 ? subject : subject[..dot];
            if (token is SingleTokenWildcard or TailWildcard)
            {
                return true;
            }

            if (dot < 0)
            {
                return false;
            }

            subject = subject[(dot + 1)..];
        }
    }

    /// <summary>
    /// Whether the subscription subject <paramref name="filter"/> matches the publish subject <paramref name="subject"/>:
    /// token by token, <c>*</c> matching any one token and a <c>&gt;</c> token every remaining token, at least one.
    /// </summary>
    /// <param name="filter">The subscription subject.</param>
    /// <param name="subject">The subject a message was published to.</param>
    /// <returns><see langword="true"/> when a subscription to <paramref name="filter"/> receives the message.</returns>
    public static bool Matches(ReadOnlySpan<char> filter, ReadOnlySpan<char> subject)
    {
        // Most subscriptions are literal: then matching is plain equality (one vectorised compare).
        if (!filter.ContainsAny('*', '>'))
        {
            return filter.SequenceEqual(subject);
        }

        while (true)
        {
            var filterDot = filter.IndexOf('.');
            var filterToken = filterDot < 0 ? filter : filter[..filterDot];
            var subjectDot = subject.IndexOf('.');
            var subjectToken = subjectDot < 0 ? subject : subject[..subjectDot];
            if (filterToken is TailWildcard)
            {
                return true; // the subject has at least this token left
            }

            if (filterToken is not SingleTokenWildcard && !filterToken.SequenceEqual(subjectToken))
            {
                return false;
            }

            if (filterDot < 0 || subjectDot < 0)
            {
                return filterDot < 0 && subjectDot < 0; // both ran out of tokens together
            }

            filter = filter[(filterDot + 1)..];
            subject = subject[(subjectDot + 1)..];
        }
    }

    /// <summary>Whether <paramref name="queueGroup"/> is a valid queue group: non-empty, without whitespace or control characters.</summary>
    /// <param name="queueGroup">The queue group.</param>
    /// <returns><see langword="true"/> when a server accepts it.</returns>
    public static bool IsValidQueueGroup(string? queueGroup)
    {
        if (string.IsNullOrEmpty(queueGroup))
        {
            return false;
        }

        foreach (var c in queueGroup)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }
}
