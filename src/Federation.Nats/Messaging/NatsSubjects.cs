using Federation.Core.Addressing;

namespace Federation.Nats.Messaging;

/// <summary>
/// Subject and queue-group validation with messages that name the offending subject. The grammar is Core's
/// <see cref="SubjectGrammar"/>; like the NATS server, a <c>*</c> or <c>&gt;</c> inside a longer token is a literal character.
/// </summary>
internal static class NatsSubjects
{
    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="subject"/> is a valid publish subject (no wildcards).</summary>
    public static void ValidatePublish(string subject, string paramName = "subject") => Validate(subject, SubjectUse.Publish, paramName);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="subject"/> is a valid subscription subject.</summary>
    public static void ValidateSubscribe(string subject, string paramName = "subject") => Validate(subject, SubjectUse.Subscribe, paramName);

    /// <summary>True when <paramref name="subject"/> is a valid subscription subject (<c>*</c> and a final <c>&gt;</c> allowed).</summary>
    public static bool IsValidSubscribe(string? subject) => subject is not null && SubjectGrammar.FindProblem(subject, SubjectUse.Subscribe) == SubjectProblem.None;

    /// <summary>True when <paramref name="subject"/> is a valid publish subject.</summary>
    public static bool IsValidPublish(string? subject) => subject is not null && SubjectGrammar.FindProblem(subject, SubjectUse.Publish) == SubjectProblem.None;

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="queueGroup"/> is a non-empty token without whitespace.</summary>
    public static void ValidateQueueGroup(string queueGroup, string paramName = "queueGroup")
    {
        ArgumentNullException.ThrowIfNull(queueGroup, paramName);
        if (!SubjectGrammar.IsValidQueueGroup(queueGroup))
        {
            throw new ArgumentException($"Queue group '{queueGroup}' must be non-empty and contain no whitespace.", paramName);
        }
    }

    private static void Validate(string subject, SubjectUse use, string paramName)
    {
        ArgumentNullException.ThrowIfNull(subject, paramName);
        if (SubjectGrammar.Explain(subject, use) is { } problem)
        {
            throw new ArgumentException($"Invalid NATS subject '{subject}': {problem}.", paramName);
        }
    }
}
