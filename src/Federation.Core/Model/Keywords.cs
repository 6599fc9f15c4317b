namespace Federation.Core.Model;

/// <summary>
/// The rabbitmqctl keywords of an enumeration (<c>on-confirm</c> for <see cref="AckMode.OnConfirm"/>, ...), so that
/// parsing, validation messages and display all use the plugin's spelling. Matching is ordinal, as rabbitmqctl's is.
/// </summary>
internal sealed class Keywords<TEnum>
    where TEnum : struct, Enum
{
    private readonly (string Keyword, TEnum Value)[] entries;

    public Keywords(params (string Keyword, TEnum Value)[] entries)
    {
        this.entries = entries;
        Choices = string.Join(", ", entries.Select(e => e.Keyword));
    }

    /// <summary>The keywords, comma-separated, for error messages.</summary>
    public string Choices { get; }

    /// <summary>Finds the value spelled <paramref name="keyword"/>.</summary>
    public bool TryParse(string keyword, out TEnum value)
    {
        foreach (var entry in entries)
        {
            if (string.Equals(entry.Keyword, keyword, StringComparison.Ordinal))
            {
                value = entry.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>Whether <paramref name="value"/> is one of the keyword values (code can cast any integer to an enum).</summary>
    public bool IsDefined(TEnum value) => Array.Exists(entries, e => EqualityComparer<TEnum>.Default.Equals(e.Value, value));
}
