using System.Text;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// Which live instance should run each link: rendezvous (highest-random-weight) hashing of (link id, instance name),
/// bounded so that no instance gets more than its share. A pure function of the link ids and the instance names, so every
/// engine that sees the same roster and the same links computes the same placement without talking to the others.
/// </summary>
/// <remarks>
/// <para>
/// Plain rendezvous hashing moves only the links of an instance that leaves or joins, but its spread is binomial: 30 links
/// over 3 instances often gives one of them 14. So the placement takes the links in a fixed order (by id) and gives each one
/// to the first instance of its preference order that is not yet full: every instance holds <c>floor(links / instances)</c>,
/// and the first ones to fill up one more until the remainder is used. Every instance then runs the floor or the ceiling
/// of the mean, and an instance that leaves or joins moves its own links plus the few that the change of capacity pushes over.
/// </para>
/// <para>Not thread-safe state: none; every member is a pure function.</para>
/// </remarks>
internal static class LinkPlacement
{
    /// <summary>Places every link of <paramref name="linkIds"/> on one of <paramref name="instances"/>.</summary>
    /// <returns>Link id to instance name; empty when there are no instances.</returns>
    public static IReadOnlyDictionary<string, string> Assign(IEnumerable<string> linkIds, IReadOnlyCollection<string> instances)
    {
        ArgumentNullException.ThrowIfNull(linkIds);
        ArgumentNullException.ThrowIfNull(instances);
        var ordered = linkIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var placement = new Dictionary<string, string>(ordered.Count, StringComparer.Ordinal);
        var names = instances.Distinct(StringComparer.Ordinal).ToList();
        if (names.Count == 0)
        {
            return placement;
        }

        // Every instance gets the floor of the mean, and as many as the remainder get one more: the first to reach it.
        var floor = ordered.Count / names.Count;
        var oneMore = ordered.Count % names.Count;
        var load = names.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
        foreach (var link in ordered)
        {
            foreach (var candidate in Preference(link, names))
            {
                var taken = load[candidate];
                if (taken < floor || (taken == floor && oneMore > 0))
                {
                    if (taken == floor)
                    {
                        oneMore--;
                    }

                    load[candidate] = taken + 1;
                    placement[link] = candidate;
                    break;
                }
            }
        }

        return placement;
    }

    /// <summary>The instances in the order <paramref name="linkId"/> prefers them: highest weight first, ties by name.</summary>
    public static IReadOnlyList<string> Preference(string linkId, IEnumerable<string> instances)
    {
        ArgumentNullException.ThrowIfNull(linkId);
        ArgumentNullException.ThrowIfNull(instances);
        return [.. instances.Distinct(StringComparer.Ordinal)
            .Select(instance => (Instance: instance, Weight: Weight(linkId, instance)))
            .OrderByDescending(x => x.Weight)
            .ThenBy(x => x.Instance, StringComparer.Ordinal)
            .Select(x => x.Instance)];
    }

    /// <summary>
    /// The weight of (link, instance): FNV-1a over both names' UTF-8 bytes, then a 64-bit finalizer so that names that
    /// differ in one character get unrelated weights. Stable across processes and runtimes (unlike string.GetHashCode).
    /// </summary>
    public static ulong Weight(string linkId, string instance)
    {
        const ulong offset = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offset;
        foreach (var b in Encoding.UTF8.GetBytes(linkId))
        {
            hash = (hash ^ b) * prime;
        }

        hash = (hash ^ 0xFF) * prime; // A separator no UTF-8 text contains, so ("ab", "c") and ("a", "bc") differ.
        foreach (var b in Encoding.UTF8.GetBytes(instance))
        {
            hash = (hash ^ b) * prime;
        }

        // splitmix64's finalizer.
        hash ^= hash >> 30;
        hash *= 0xBF58476D1CE4E5B9UL;
        hash ^= hash >> 27;
        hash *= 0x94D049BB133111EBUL;
        hash ^= hash >> 31;
        return hash;
    }
}
