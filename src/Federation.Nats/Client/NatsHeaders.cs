using System.Collections;

namespace Federation.Nats.Client;

/// <summary>
/// NATS message headers (ADR-4, <c>NATS/1.0</c>): keys are case-insensitive and keep the spelling first used, each key
/// may carry several values (written as repeated lines), and an optional status line code and description
/// (e.g. <c>503</c> for "no responders").
/// </summary>
public sealed class NatsHeaders : IEnumerable<KeyValuePair<string, IReadOnlyList<string>>>
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The status code of the version line (<c>NATS/1.0 503</c>), or 0 when there is none.</summary>
    public int StatusCode { get; set; }

    /// <summary>The status description following the code, if any.</summary>
    public string? StatusDescription { get; set; }

    /// <summary>The number of distinct keys.</summary>
    public int Count => _values.Count;

    /// <summary>The keys, in insertion order, with the spelling first used.</summary>
    public IEnumerable<string> Keys => _values.Keys;

    /// <summary>Gets the first value of <paramref name="key"/> (null when absent) or replaces all its values.</summary>
    public string? this[string key]
    {
        get => _values.TryGetValue(key, out var list) && list.Count > 0 ? list[0] : null;
        set
        {
            if (value is null)
            {
                Remove(key);
            }
            else
            {
                Set(key, value);
            }
        }
    }

    /// <summary>Adds a value to <paramref name="key"/>, keeping existing values.</summary>
    public NatsHeaders Add(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_values.TryGetValue(key, out var list))
        {
            list = [];
            _values.Add(key, list);
        }

        list.Add(value);
        return this;
    }

    /// <summary>Replaces every value of <paramref name="key"/> by <paramref name="value"/>.</summary>
    public NatsHeaders Set(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (_values.TryGetValue(key, out var list))
        {
            list.Clear();
            list.Add(value);
        }
        else
        {
            _values.Add(key, [value]);
        }

        return this;
    }

    /// <summary>Removes a key and its values.</summary>
    public bool Remove(string key) => _values.Remove(key);

    /// <summary>True when the key is present (case-insensitively).</summary>
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <summary>Gets every value of a key.</summary>
    public bool TryGetValues(string key, out IReadOnlyList<string> values)
    {
        if (_values.TryGetValue(key, out var list))
        {
            values = list;
            return true;
        }

        values = [];
        return false;
    }

    /// <summary>True when both hold the same status, keys (case-insensitively) and values in the same order.</summary>
    public bool ContentEquals(NatsHeaders? other)
    {
        if (other is null || other.StatusCode != StatusCode || other.Count != Count
            || !string.Equals(other.StatusDescription ?? string.Empty, StatusDescription ?? string.Empty, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var (key, list) in _values)
        {
            if (!other._values.TryGetValue(key, out var otherList) || !list.SequenceEqual(otherList, StringComparer.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, IReadOnlyList<string>>> GetEnumerator()
    {
        foreach (var (key, list) in _values)
        {
            yield return new KeyValuePair<string, IReadOnlyList<string>>(key, list);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The entries themselves, for allocation-free enumeration on the library's hot paths (codec, mapping).</summary>
    internal Dictionary<string, List<string>> Entries => _values;

    /// <inheritdoc />
    public override string ToString() =>
        $"NATS/1.0{(StatusCode != 0 ? " " + StatusCode : string.Empty)} ({Count} keys)";
}
