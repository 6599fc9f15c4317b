namespace Federation.Core.Addressing;

/// <summary>
/// AMQP topic matching, the one implementation that the in-memory topic exchange and the NATS mapping of topic bindings
/// share: words are separated by '.', <c>*</c> matches exactly one word, <c>#</c> matches zero or more words. As in
/// RabbitMQ, the empty string has no words at all, while "a..b" has an empty middle word.
/// </summary>
/// <remarks>
/// Works on word cursors (the index where the next word starts, or <c>length + 1</c> once every word was consumed) instead of
/// splitting, so that it never allocates. <c>#</c> is handled like <c>*</c> in file globbing: remember the last <c>#</c> and,
/// on a mismatch, let it swallow one more word. That greedy backtracking is complete because <c>#</c> matches any word sequence.
/// </remarks>
public static class TopicGrammar
{
    /// <summary>Whether <paramref name="routingKey"/> matches the binding <paramref name="pattern"/>.</summary>
    /// <param name="pattern">The binding key, with <c>*</c> and <c>#</c> words as wildcards.</param>
    /// <param name="routingKey">The message's routing key; its <c>*</c> and <c>#</c> are ordinary characters.</param>
    /// <returns><see langword="true"/> when a topic exchange routes the message through the binding.</returns>
    public static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> routingKey)
    {
        // Most bindings are literal: without a wildcard character, matching is plain equality (one vectorised compare).
        if (!pattern.ContainsAny('*', '#'))
        {
            return pattern.SequenceEqual(routingKey);
        }

        var patternEnd = pattern.Length + 1;
        var keyEnd = routingKey.Length + 1;
        var p = FirstWord(pattern);
        var k = FirstWord(routingKey);
        var hashPattern = -1;
        var hashKey = -1;

        while (k != keyEnd)
        {
            if (p != patternEnd)
            {
                var patternWord = WordAt(pattern, p);
                if (patternWord is "#")
                {
                    hashPattern = p;
                    hashKey = k;
                    p = NextWord(pattern, p);
                    continue;
                }

                if (patternWord is "*" || patternWord.SequenceEqual(WordAt(routingKey, k)))
                {
                    p = NextWord(pattern, p);
                    k = NextWord(routingKey, k);
                    continue;
                }
            }

            if (hashPattern < 0)
            {
                return false;
            }

            // Let the last '#' swallow one more word and retry the rest of the pattern after it.
            p = NextWord(pattern, hashPattern);
            hashKey = NextWord(routingKey, hashKey);
            k = hashKey;
        }

        while (p != patternEnd && WordAt(pattern, p) is "#")
        {
            p = NextWord(pattern, p);
        }

        return p == patternEnd;
    }

    private static int FirstWord(ReadOnlySpan<char> text) => text.IsEmpty ? 1 : 0;

    private static ReadOnlySpan<char> WordAt(ReadOnlySpan<char> text, int cursor)
    {
        var rest = text[cursor..];
        var dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    private static int NextWord(ReadOnlySpan<char> text, int cursor)
    {
        var dot = text[cursor..].IndexOf('.');
        return dot < 0 ? text.Length + 1 : cursor + dot + 1;
    }
}
