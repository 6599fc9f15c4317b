namespace Federation.Nats.Messaging;

/// <summary>Subject and queue-group validation with messages that name the offending subject.</summary>
internal static class NatsSubjects
{
    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="subject"/> is a valid publish subject (no wildcards).</summary>
    public static void ValidatePublish(string subject, string paramName = "subject") => Validate(subject, allowWildcards: false, paramName);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="subject"/> is a valid subscription subject.</summary>
    public static void ValidateSubscribe(string subject, string paramName = "subject") => Validate(subject, allowWildcards: true, paramName);

    /// <summary>True when <paramref name="subject"/> is a valid subscription subject (<c>*</c> and a final <c>&gt;</c> allowed).</summary>
    public static bool IsValidSubscribe(string? subject) => subject is not null && Problem(subject, allowWildcards: true) is null;

    /// <summary>True when <paramref name="subject"/> is a valid publish subject.</summary>
    public static bool IsValidPublish(string? subject) => subject is not null && Problem(subject, allowWildcards: false) is null;

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="queueGroup"/> is a non-empty token without whitespace.</summary>
    public static void ValidateQueueGroup(string queueGroup, string paramName = "queueGroup")
    {
        ArgumentNullException.ThrowIfNull(queueGroup, paramName);
        if (queueGroup.Length == 0 || queueGroup.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new ArgumentException($"Queue group '{queueGroup}' must be non-empty and contain no whitespace.", paramName);
        }
    }

    private static void Validate(string subject, bool allowWildcards, string paramName)
    {
        ArgumentNullException.ThrowIfNull(subject, paramName);
        if (Problem(subject, allowWildcards) is { } problem)
        {
            throw new ArgumentException($"Invalid NATS subject '{subject}': {problem}.", paramName);
        }
    }

    private static string? Problem(string subject, bool allowWildcards)
    {
        if (subject.Length == 0)
        {
            return "it is empty";
        }

        var tokenStart = 0;
        for (var i = 0; i <= subject.Length; i++)
        {
            if (i < subject.Length && subject[i] != '.')
            {
                var c = subject[i];
                if (char.IsWhiteSpace(c) || char.IsControl(c))
                {
                    return "it contains whitespace or a control character";
                }

                continue;
            }

            var token = subject.AsSpan(tokenStart, i - tokenStart);
            if (token.Length == 0)
            {
                return "it has an empty token";
            }

            if (token is "*" or ">")
            {
                if (!allowWildcards)
                {
                    return "wildcards are only allowed in subscriptions";
                }

                if (token is ">" && i != subject.Length)
                {
                    return "'>' must be the last token";
                }
            }

            tokenStart = i + 1;
        }

        return null;
    }
}
