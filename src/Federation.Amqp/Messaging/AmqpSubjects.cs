using System.Security.Cryptography;
using System.Text;
using Federation.Core.Addressing;

namespace Federation.Amqp.Messaging;

/// <summary>
/// How NATS-style subjects map onto an AMQP topic exchange, and the checks that refuse what cannot be mapped. Both syntaxes
/// split on <c>.</c> and have a one-word wildcard <c>*</c>, so a publish subject is its own routing key. NATS's trailing
/// <c>&gt;</c> (one or more words) becomes <c>*.#</c> (one word, then zero or more): AMQP's <c>#</c> alone would also match
/// zero words. A literal <c>#</c> word cannot be mapped (it would become AMQP's wildcard), and routing and binding keys are
/// AMQP short strings, at most 255 bytes of UTF-8. The subject grammar itself is Core's <see cref="SubjectGrammar"/>, as on
/// NATS (a <c>*</c> or <c>&gt;</c> inside a longer token is a literal character); these two limits are checked after it.
/// </summary>
internal static class AmqpSubjects
{
    /// <summary>The longest routing key, binding key or queue name AMQP carries (a short string), in UTF-8 bytes.</summary>
    public const int MaxKeyBytes = 255;

    private const string GroupQueuePrefix = "federation.subject-group ";

    /// <summary>Throws <see cref="ArgumentException"/> naming the subject unless it is a valid publish subject (no wildcards).</summary>
    public static void ValidatePublish(string subject, string paramName = "subject") => Validate(subject, SubjectUse.Publish, paramName);

    /// <summary>Throws <see cref="ArgumentException"/> naming the subject unless it is a valid subscription subject.</summary>
    public static void ValidateSubscribe(string subject, string paramName = "subject") => Validate(subject, SubjectUse.Subscribe, paramName);

    /// <summary>Throws <see cref="ArgumentException"/> naming the group unless it is a non-empty token without whitespace.</summary>
    public static void ValidateQueueGroup(string queueGroup, string paramName = "queueGroup")
    {
        ArgumentNullException.ThrowIfNull(queueGroup, paramName);
        if (!SubjectGrammar.IsValidQueueGroup(queueGroup))
        {
            throw new ArgumentException($"Queue group '{queueGroup}' must be non-empty and contain no whitespace.", paramName);
        }
    }

    /// <summary>The topic-exchange binding key for a (valid) subscription subject.</summary>
    public static string ToBindingKey(string subject) =>
        subject == ">" ? "*.#"
        : subject.EndsWith(".>", StringComparison.Ordinal) ? string.Concat(subject.AsSpan(0, subject.Length - 1), "*.#")
        : subject;

    /// <summary>
    /// The shared queue of a queue group on a subject: NATS groups are per subject, so the name holds both (space-separated,
    /// a character neither may contain). Names over 255 bytes are replaced by a hash of the same two values, so every member
    /// still finds the same queue.
    /// </summary>
    public static string GroupQueueName(string subject, string queueGroup)
    {
        var name = $"{GroupQueuePrefix}{queueGroup} {subject}";
        if (Encoding.UTF8.GetByteCount(name) <= MaxKeyBytes)
        {
            return name;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{queueGroup} {subject}"));
        return GroupQueuePrefix + Convert.ToHexStringLower(hash);
    }

    private static void Validate(string subject, SubjectUse use, string paramName)
    {
        ArgumentNullException.ThrowIfNull(subject, paramName);
        if (Problem(subject, use) is { } problem)
        {
            throw new ArgumentException($"Invalid subject '{subject}' for the AMQP subject transport: {problem}.", paramName);
        }
    }

    private static string? Problem(string subject, SubjectUse use)
    {
        if (SubjectGrammar.Explain(subject, use) is { } grammar)
        {
            return grammar;
        }

        // Span ranges, not string.Split: this runs for every publish.
        var span = subject.AsSpan();
        foreach (var token in span.Split('.'))
        {
            if (span[token] is "#")
            {
                return "the token '#' cannot be mapped onto AMQP, where it is the multi-word wildcard";
            }
        }

        var subscription = use == SubjectUse.Subscribe;
        var key = subscription ? ToBindingKey(subject) : subject;
        var bytes = Encoding.UTF8.GetByteCount(key);
        return bytes > MaxKeyBytes
            ? $"as an AMQP {(subscription ? "binding" : "routing")} key it is {bytes} bytes of UTF-8, over AMQP's limit of {MaxKeyBytes}"
            : null;
    }
}
