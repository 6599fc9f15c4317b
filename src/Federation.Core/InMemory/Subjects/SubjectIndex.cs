using Federation.Core.Addressing;

namespace Federation.Core.InMemory.Subjects;

/// <summary>
/// The subscriptions of one <see cref="InMemorySubjectServer"/>, indexed so that a publish finds its receivers quickly:
/// literal subjects by dictionary lookup, wildcard subjects by a scan of the (usually few) wildcard subscriptions.
/// Copy-on-write: publishes read an immutable snapshot without locking; subscribe and unsubscribe rebuild it.
/// </summary>
internal sealed class SubjectIndex
{
    private readonly Lock _gate = new();
    private volatile Snapshot _snapshot = new(new Dictionary<string, InMemorySubjectSubscription[]>(StringComparer.Ordinal), []);

    public void Add(InMemorySubjectSubscription subscription)
    {
        lock (_gate)
        {
            var current = _snapshot;
            if (!subscription.HasWildcard)
            {
                var literal = new Dictionary<string, InMemorySubjectSubscription[]>(current.Literal, StringComparer.Ordinal);
                literal[subscription.Subject] = literal.TryGetValue(subscription.Subject, out var existing) ? [.. existing, subscription] : [subscription];
                _snapshot = new Snapshot(literal, current.Wildcard);
            }
            else
            {
                _snapshot = new Snapshot(current.Literal, [.. current.Wildcard, subscription]);
            }
        }
    }

    public void Remove(InMemorySubjectSubscription subscription)
    {
        lock (_gate)
        {
            var current = _snapshot;
            if (!subscription.HasWildcard)
            {
                if (!current.Literal.TryGetValue(subscription.Subject, out var existing))
                {
                    return;
                }

                var literal = new Dictionary<string, InMemorySubjectSubscription[]>(current.Literal, StringComparer.Ordinal);
                var remaining = Array.FindAll(existing, s => !ReferenceEquals(s, subscription));
                if (remaining.Length == 0)
                {
                    literal.Remove(subscription.Subject);
                }
                else
                {
                    literal[subscription.Subject] = remaining;
                }

                _snapshot = new Snapshot(literal, current.Wildcard);
            }
            else
            {
                _snapshot = new Snapshot(current.Literal, Array.FindAll(current.Wildcard, s => !ReferenceEquals(s, subscription)));
            }
        }
    }

    /// <summary>Adds every subscription matching <paramref name="subject"/> to <paramref name="matches"/>.</summary>
    public void Match(string subject, List<InMemorySubjectSubscription> matches)
    {
        var snapshot = _snapshot;
        if (snapshot.Literal.TryGetValue(subject, out var literal))
        {
            matches.AddRange(literal);
        }

        foreach (var wildcard in snapshot.Wildcard)
        {
            if (SubjectGrammar.Matches(wildcard.Subject, subject))
            {
                matches.Add(wildcard);
            }
        }
    }

    private sealed record Snapshot(Dictionary<string, InMemorySubjectSubscription[]> Literal, InMemorySubjectSubscription[] Wildcard);
}
