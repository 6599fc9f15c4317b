using Federation.Core.Addressing;
using Federation.Core.Transport;

namespace Federation.Nats.Transport;

/// <summary>
/// Maps AMQP exchanges, routing keys and binding keys to NATS subjects and back.
/// An exchange is a subject prefix: exchange <c>orders</c> with routing key <c>eu.created</c> is the subject
/// <c>orders.eu.created</c>; an empty routing key is the subject <c>orders</c> itself.
/// </summary>
/// <remarks>
/// Binding keys become the subjects to subscribe:
/// <list type="bullet">
/// <item><b>topic</b>: <c>*</c> stays <c>*</c>; a trailing <c>#</c> becomes <c>&gt;</c> plus the prefix itself (AMQP <c>#</c> also
/// matches zero words, NATS <c>&gt;</c> does not): <c>a.#</c> subscribes <c>orders.a.&gt;</c> and <c>orders.a</c>. A <c>#</c> that is not
/// the last word has no exact NATS form: the widest form (<c>&gt;</c> from the first <c>#</c> on) is subscribed and every message is
/// filtered client-side with the AMQP topic rules, so delivery stays exact.</item>
/// <item><b>fanout</b>: the binding key is ignored: <c>orders</c> and <c>orders.&gt;</c>.</item>
/// <item><b>direct</b>: the key as one subject; a key containing <c>*</c> is subscribed as a NATS wildcard and filtered by equality.</item>
/// </list>
/// Keys with empty words (<c>a..b</c>, a leading or trailing dot), whitespace, or <c>&gt;</c> are rejected: NATS has no subject for them.
/// The default exchange (empty name) is not supported.
/// </remarks>
public static class NatsSubjectMapping
{
    /// <summary>The subject a message published to <paramref name="exchange"/> with <paramref name="routingKey"/> goes to.</summary>
    /// <exception cref="ArgumentException">The pair has no valid NATS subject.</exception>
    public static string PublishSubject(string exchange, string routingKey)
    {
        // Per-message path: the common, valid case is checked in one pass without splitting; anything else takes the
        // word-by-word validation below, which names the problem.
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        if (IsPlainSubject(exchange) && (routingKey.Length == 0 || IsPlainSubject(routingKey)))
        {
            return routingKey.Length == 0 ? exchange : string.Concat(exchange, ".", routingKey);
        }

        ValidateExchange(exchange);
        if (routingKey.Length == 0)
        {
            return exchange;
        }

        foreach (var word in routingKey.Split('.'))
        {
            CheckPublishWord(word, routingKey);
        }

        return exchange + "." + routingKey;
    }

    /// <summary>
    /// Splits a received subject into the routing key below <paramref name="exchange"/>; false when the subject is not in that namespace.
    /// </summary>
    public static bool TryGetRoutingKey(string exchange, string subject, out string routingKey)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(subject);
        routingKey = "";
        if (subject.Length == exchange.Length)
        {
            return subject == exchange;
        }

        if (subject.Length > exchange.Length + 1 && subject.StartsWith(exchange, StringComparison.Ordinal) && subject[exchange.Length] == '.')
        {
            routingKey = subject[(exchange.Length + 1)..];
            return true;
        }

        return false;
    }

    /// <summary>The NATS subjects to subscribe so that every message a binding with <paramref name="bindingKey"/> matches arrives (maybe more).</summary>
    /// <param name="exchange">The exchange (subject prefix).</param>
    /// <param name="exchangeType"><c>topic</c>, <c>direct</c> or <c>fanout</c>.</param>
    /// <param name="bindingKey">The AMQP binding key.</param>
    /// <exception cref="ArgumentException">The key cannot be expressed as NATS subjects.</exception>
    /// <exception cref="ExchangeTypeNotSupportedException">The type is not topic, direct or fanout.</exception>
    public static IReadOnlyList<string> SubscribeSubjects(string exchange, string exchangeType, string bindingKey)
    {
        ValidateExchange(exchange);
        ArgumentNullException.ThrowIfNull(bindingKey);
        switch (exchangeType)
        {
            case ExchangeSpec.Types.Fanout:
                return [exchange, exchange + ".>"];
            case ExchangeSpec.Types.Direct:
                if (bindingKey.Length == 0)
                {
                    return [exchange];
                }

                foreach (var word in bindingKey.Split('.'))
                {
                    CheckBindingWord(word, bindingKey);
                }

                // A literal '#' word cannot be published on NATS at all; '*' is subscribed as a wildcard and filtered by equality.
                return [exchange + "." + bindingKey.Replace("#", "*", StringComparison.Ordinal)];
            case ExchangeSpec.Types.Topic:
                return TopicSubjects(exchange, bindingKey);
            default:
                throw new ExchangeTypeNotSupportedException($"Exchange type '{exchangeType}' has no NATS subject mapping (supported: topic, direct, fanout).");
        }
    }

    /// <summary>Whether a message with <paramref name="routingKey"/> is routed by a binding with <paramref name="bindingKey"/> on an exchange of <paramref name="exchangeType"/>.</summary>
    public static bool Routes(string exchangeType, string bindingKey, string routingKey) => exchangeType switch
    {
        ExchangeSpec.Types.Fanout => true,
        ExchangeSpec.Types.Direct => bindingKey == routingKey,
        _ => TopicMatches(bindingKey, routingKey),
    };

    /// <summary>AMQP topic matching: <c>*</c> is one word, <c>#</c> zero or more words (Core's <see cref="TopicGrammar"/>).</summary>
    public static bool TopicMatches(string pattern, string routingKey)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(routingKey);
        return TopicGrammar.Matches(pattern, routingKey);
    }

    /// <summary>
    /// Whether some subject matches both subscription subjects <paramref name="a"/> and <paramref name="b"/> (each may hold
    /// <c>*</c> tokens and a trailing <c>&gt;</c>): token by token, two literals must be equal, <c>*</c> meets any token, and
    /// <c>&gt;</c> meets one or more remaining tokens.
    /// </summary>
    internal static bool SubjectsOverlap(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var left = a.AsSpan();
        var right = b.AsSpan();
        while (true)
        {
            var leftEnd = left.IndexOf('.');
            var rightEnd = right.IndexOf('.');
            var leftToken = leftEnd < 0 ? left : left[..leftEnd];
            var rightToken = rightEnd < 0 ? right : right[..rightEnd];
            if (leftToken is ">" || rightToken is ">")
            {
                return true; // both have a token here, and > takes it and whatever follows
            }

            if (leftToken is not "*" && rightToken is not "*" && !leftToken.SequenceEqual(rightToken))
            {
                return false;
            }

            if (leftEnd < 0 || rightEnd < 0)
            {
                return leftEnd < 0 && rightEnd < 0; // a subject has as many tokens as both, or one of them is longer
            }

            left = left[(leftEnd + 1)..];
            right = right[(rightEnd + 1)..];
        }
    }

    /// <summary>NATS subject matching: <c>*</c> is one token, a trailing <c>&gt;</c> one or more tokens (Core's <see cref="SubjectGrammar"/>).</summary>
    public static bool SubjectMatches(string filter, string subject)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(subject);
        return SubjectGrammar.Matches(filter, subject);
    }

    /// <summary>
    /// Turns a NATS subscription subject into an AMQP topic binding key below <paramref name="exchange"/>
    /// (<c>&gt;</c> becomes <c>#</c>); false when the subject is not in that namespace.
    /// </summary>
    public static bool TryGetBindingKey(string exchange, string subject, out string bindingKey)
    {
        bindingKey = "";
        if (!TryGetRoutingKey(exchange, subject, out var rest))
        {
            return false;
        }

        bindingKey = rest.EndsWith('>') && (rest.Length == 1 || rest[^2] == '.') ? rest[..^1] + "#" : rest;
        return true;
    }

    private static List<string> TopicSubjects(string exchange, string bindingKey)
    {
        if (bindingKey.Length == 0)
        {
            return [exchange];
        }

        var words = bindingKey.Split('.');
        foreach (var word in words)
        {
            CheckBindingWord(word, bindingKey);
        }

        var firstHash = Array.IndexOf(words, "#");
        if (firstHash < 0)
        {
            return [exchange + "." + bindingKey];
        }

        var head = firstHash == 0 ? exchange : exchange + "." + string.Join('.', words, 0, firstHash);
        var subjects = new List<string>(2) { head + ".>" };
        if (words.Skip(firstHash).All(w => w == "#"))
        {
            subjects.Add(head); // '#' matches zero words too
        }

        return subjects;
    }

    /// <summary>Non-empty dot-separated words, no empty word, no wildcard or '&gt;' character, no whitespace or control character.</summary>
    private static bool IsPlainSubject(string text)
    {
        if (text.Length == 0 || text[0] == '.' || text[^1] == '.')
        {
            return false;
        }

        var previous = '\0';
        foreach (var c in text)
        {
            if (c is '*' or '>' or '#' || char.IsWhiteSpace(c) || char.IsControl(c) || (c == '.' && previous == '.'))
            {
                return false;
            }

            previous = c;
        }

        return true;
    }

    /// <summary>Whether <paramref name="exchange"/> can be an exchange, that is a subject prefix (see <see cref="PublishSubject"/>).</summary>
    internal static bool IsSubjectPrefix(string exchange)
    {
        try
        {
            ValidateExchange(exchange);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void ValidateExchange(string exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        if (exchange.Length == 0)
        {
            throw new ArgumentException("The default exchange (empty name) has no NATS subject namespace.", nameof(exchange));
        }

        // A subject prefix is a publish subject, and a '#' word would read as AMQP's wildcard when mapped back.
        if (SubjectGrammar.FindProblem(exchange, SubjectUse.Publish) != SubjectProblem.None || exchange.Split('.').Contains("#"))
        {
            throw new ArgumentException($"Exchange '{exchange}' is not a valid NATS subject prefix (empty, wildcard or whitespace token).", nameof(exchange));
        }
    }

    // A publish subject's token is a wildcard only when it is all of '*' or '>'; any other token, '#' and '*', '>' or '#'
    // inside a word included, is literal to NATS, and a NATS publisher may have used it (an upstream delivers such subjects).
    private static void CheckPublishWord(string word, string key)
    {
        CheckToken(word, key);
        if (word is "*" or ">")
        {
            throw new ArgumentException($"Routing key '{key}' contains a wildcard word; a NATS publish subject cannot.", nameof(key));
        }
    }

    // A binding key's word may be a whole '*' or '#' (AMQP wildcards), never '>' nor a wildcard inside a word.
    private static void CheckBindingWord(string word, string key)
    {
        CheckToken(word, key);
        if (word.Contains('>', StringComparison.Ordinal) || (word.Length > 1 && (word.Contains('*', StringComparison.Ordinal) || word.Contains('#', StringComparison.Ordinal))))
        {
            throw new ArgumentException($"Key '{key}' contains '>' or a wildcard inside a word; it has no NATS subject form.", nameof(key));
        }
    }

    /// <summary>What every NATS subject token needs, wildcard or not: at least one character, and no whitespace.</summary>
    private static void CheckToken(string word, string key)
    {
        if (word.Length == 0)
        {
            throw new ArgumentException($"Key '{key}' has an empty word; NATS subjects cannot have empty tokens.", nameof(key));
        }

        if (word.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new ArgumentException($"Key '{key}' contains whitespace or a control character; NATS subjects cannot.", nameof(key));
        }
    }
}
