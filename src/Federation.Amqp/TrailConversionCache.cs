namespace Federation.Amqp;

/// <summary>
/// The client-table form of the <c>x-received-from</c> trails a publisher sent last, so that a trail equal to one of them
/// is sent as that same converted value instead of a new copy. Every message a link forwards on one path carries the same
/// trail (the same upstreams, newest first), and converting it was most of a forward's header allocations: an array and a
/// table per hop, per message. A cached value is never modified (the client only reads headers when it writes a frame), so
/// publishes in flight may share it; the trail in the caller's properties is only compared, never kept, so the caller may
/// change it afterwards as the publisher contract allows.
/// </summary>
/// <remarks>
/// Equal means the same wire bytes: the same array length, the same keys in the same order, and values of the same type
/// and value. Only text, booleans, integers and null count as plain values: a decimal or a double may compare equal with a
/// different encoding (1.0m and 1.00m), and anything else is converted afresh. Not thread-safe: one publisher's calls come
/// one at a time (its contract), and each user has its own cache.
/// </remarks>
internal sealed class TrailConversionCache
{
    // A trail this long, or a table this wide, is no ordinary trail: converted afresh, not compared.
    private const int MaxElements = 16;
    private const int Slots = 4;
    private readonly List<object?>?[] converted = new List<object?>?[Slots];
    private int nextSlot;

    /// <summary>The client-table form of <paramref name="trail"/>: a cached one when equal, else a new one (cached when it qualifies).</summary>
    public object? Convert(object? trail)
    {
        if (trail is not List<object?> list || !IsPlainTrail(list))
        {
            return AmqpHeaders.ToAmqpValue(trail);
        }

        foreach (var candidate in converted)
        {
            if (candidate is not null && SameArray(list, candidate))
            {
                return candidate;
            }
        }

        var fresh = (List<object?>)AmqpHeaders.ToAmqpValue(list)!;
        converted[nextSlot] = fresh;
        nextSlot = (nextSlot + 1) % Slots;
        return fresh;
    }

    // An array of plain values and of tables of plain values: what the trail is, and what converts to an equal value.
    private static bool IsPlainTrail(List<object?> list)
    {
        if (list.Count > MaxElements)
        {
            return false;
        }

        foreach (var element in list)
        {
            if (element is Dictionary<string, object?> table)
            {
                if (table.Count > MaxElements)
                {
                    return false;
                }

                foreach (var (_, value) in table)
                {
                    if (!IsPlain(value))
                    {
                        return false;
                    }
                }
            }
            else if (!IsPlain(element))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPlain(object? value) =>
        value is null or string or bool or sbyte or byte or short or ushort or int or uint or long or ulong;

    private static bool SameArray(List<object?> source, List<object?> candidate)
    {
        if (source.Count != candidate.Count)
        {
            return false;
        }

        for (var i = 0; i < source.Count; i++)
        {
            var same = source[i] is Dictionary<string, object?> table
                ? candidate[i] is Dictionary<string, object?> other && SameTable(table, other)
                : SamePlain(source[i], candidate[i]);
            if (!same)
            {
                return false;
            }
        }

        return true;
    }

    private static bool SameTable(Dictionary<string, object?> source, Dictionary<string, object?> candidate)
    {
        if (source.Count != candidate.Count)
        {
            return false;
        }

        // The candidate was filled in the order the source it was converted from enumerated, which is the order on the wire;
        // it enumerates in that order, as nothing is ever removed from it.
        using var others = candidate.GetEnumerator();
        foreach (var (key, value) in source)
        {
            if (!others.MoveNext()
                || !string.Equals(key, others.Current.Key, StringComparison.Ordinal)
                || !SamePlain(value, others.Current.Value))
            {
                return false;
            }
        }

        return true;
    }

    // Same type and value; both are plain values here (or the candidate is something else, which then differs).
    private static bool SamePlain(object? source, object? candidate) =>
        source is null ? candidate is null : candidate is not null && source.GetType() == candidate.GetType() && source.Equals(candidate);
}
