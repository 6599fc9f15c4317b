namespace Federation.Core.Hops;

/// <summary>
/// Prepending a table to an array-of-tables header, the way the plugin's <c>rabbit_basic:prepend_table_header</c> does it,
/// so that <c>x-received-from</c> and <c>x-bound-from</c> are rewritten identically.
/// </summary>
internal static class TableHeader
{
    /// <summary>
    /// Sets <paramref name="name"/> in <paramref name="headers"/> to a new array whose first element is <paramref name="table"/>.
    /// An existing array's elements follow it; the existing array instance is not modified, because it may be shared with
    /// other copies of the message. An existing value that is not an array is moved to <c>x-invalid-headers</c>.
    /// </summary>
    public static void Prepend(Dictionary<string, object?> headers, string name, Dictionary<string, object?> table)
    {
        if (!headers.TryGetValue(name, out var existing))
        {
            headers[name] = new List<object?>(1) { table };
            return;
        }

        if (HeaderValueReader.TryGetArrayCount(existing, out var count))
        {
            var trail = new List<object?>(count + 1) { table };
            AppendElements(existing, count, trail);
            headers[name] = trail;
            return;
        }

        headers[name] = new List<object?>(1) { table };
        headers[HopHeaders.InvalidHeaders] = WithInvalidValue(headers.GetValueOrDefault(HopHeaders.InvalidHeaders), name, existing);
    }

    // The plugin keeps, per header name, an array of the values it displaced, newest first. The existing
    // x-invalid-headers table is copied rather than modified, for the same sharing reason as the trail.
    private static Dictionary<string, object?> WithInvalidValue(object? invalidHeaders, string name, object? displaced)
    {
        var updated = new Dictionary<string, object?>(StringComparer.Ordinal);
        switch (invalidHeaders)
        {
            case null:
                break;
            case IReadOnlyDictionary<string, object?> table:
                foreach (var (key, value) in table)
                {
                    updated[key] = value;
                }

                break;
            case IDictionary<string, object?> table:
                foreach (var (key, value) in table)
                {
                    updated[key] = value;
                }

                break;
            default:
                // The plugin loops forever on a corrupt x-invalid-headers; keeping the corrupt value inside the new
                // table instead loses nothing and follows the same "displaced values go here" rule.
                updated[HopHeaders.InvalidHeaders] = new List<object?>(1) { invalidHeaders };
                break;
        }

        var displacedValues = new List<object?> { displaced };
        if (updated.TryGetValue(name, out var earlier))
        {
            if (HeaderValueReader.TryGetArrayCount(earlier, out var count))
            {
                AppendElements(earlier, count, displacedValues);
            }
            else
            {
                displacedValues.Add(earlier);
            }
        }

        updated[name] = displacedValues;
        return updated;
    }

    private static void AppendElements(object array, int count, List<object?> target)
    {
        for (var i = 0; i < count; i++)
        {
            target.Add(HeaderValueReader.ElementAt(array, i));
        }
    }
}
