using System.Collections;

namespace Federation.Core.Transport;

/// <summary>
/// Deep structural equality for header values and argument tables (strings, numbers, byte arrays, lists, tables).
/// Bindings are grouped by (routing key, arguments), so arguments must compare by value, not by reference.
/// A null table and an empty table are equal, because AMQP clients use them interchangeably.
/// </summary>
public sealed class HeaderValueComparer : IEqualityComparer<object?>, IEqualityComparer<IReadOnlyDictionary<string, object?>?>
{
    /// <summary>The shared instance.</summary>
    public static HeaderValueComparer Instance { get; } = new();

    private HeaderValueComparer() { }

    /// <inheritdoc />
    public bool Equals(IReadOnlyDictionary<string, object?>? x, IReadOnlyDictionary<string, object?>? y)
    {
        var xCount = x?.Count ?? 0;
        var yCount = y?.Count ?? 0;
        if (xCount != yCount)
        {
            return false;
        }

        if (xCount == 0)
        {
            return true;
        }

        foreach (var (key, value) in x!)
        {
            if (!y!.TryGetValue(key, out var other) || !Equals(value, other))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public int GetHashCode(IReadOnlyDictionary<string, object?>? obj)
    {
        if (obj is null || obj.Count == 0)
        {
            return 0;
        }

        // Order-independent: XOR of per-entry hashes.
        var hash = obj.Count;
        foreach (var (key, value) in obj)
        {
            hash ^= HashCode.Combine(StringComparer.Ordinal.GetHashCode(key), GetHashCode(value));
        }

        return hash;
    }

    /// <inheritdoc />
    public new bool Equals(object? x, object? y)
    {
        if (ReferenceEquals(x, y))
        {
            return true;
        }

        switch (x)
        {
            case null:
                return y is null;
            case string s:
                return y is string t && string.Equals(s, t, StringComparison.Ordinal);
            case byte[] a:
                return y is byte[] b && a.AsSpan().SequenceEqual(b);
            case IReadOnlyDictionary<string, object?> d:
                return y is IReadOnlyDictionary<string, object?> e && Equals(d, e);
            case IDictionary<string, object?> d2:
                return y is IDictionary<string, object?> e2 && Equals(AsReadOnly(d2), AsReadOnly(e2));
            case IList l:
                return y is IList m && ListEquals(l, m);
        }

        if (IsInteger(x) && IsInteger(y))
        {
            // AMQP may widen integer types across a hop (short -> long); compare the value.
            return Convert.ToInt64(x, System.Globalization.CultureInfo.InvariantCulture)
                == Convert.ToInt64(y, System.Globalization.CultureInfo.InvariantCulture);
        }

        return x.Equals(y);
    }

    /// <inheritdoc />
    public int GetHashCode(object? obj) => obj switch
    {
        null => 0,
        string s => StringComparer.Ordinal.GetHashCode(s),
        byte[] a => a.Length,
        IReadOnlyDictionary<string, object?> d => GetHashCode(d),
        IDictionary<string, object?> d2 => GetHashCode(AsReadOnly(d2)),
        IList l => l.Count,
        _ when IsInteger(obj) => Convert.ToInt64(obj, System.Globalization.CultureInfo.InvariantCulture).GetHashCode(),
        _ => obj.GetHashCode(),
    };

    private static IReadOnlyDictionary<string, object?> AsReadOnly(IDictionary<string, object?> d) =>
        d as IReadOnlyDictionary<string, object?> ?? new Dictionary<string, object?>(d);

    private bool ListEquals(IList a, IList b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (!Equals(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsInteger(object? o) => o is sbyte or byte or short or ushort or int or uint or long;
}
