using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Federation.Core.Model;

/// <summary>
/// A configuration section as a parameter value. Every scalar is a string (<c>"1"</c>, <c>"true"</c>) and is parsed
/// invariantly; keys compare case-insensitively, as <see cref="IConfiguration"/> does; a list is a section whose
/// children are named <c>0</c>, <c>1</c>, ... The JSON configuration provider stores an empty object or array as an
/// empty string, so an empty string with no children is also an empty list or object.
/// </summary>
internal sealed class ConfigurationParameterValue(IConfigurationSection section) : IParameterValue
{
    /// <inheritdoc />
    public StringComparer KeyComparer => StringComparer.OrdinalIgnoreCase;

    /// <inheritdoc />
    public string Display => section.Value is { } value ? ConfigurationErrorText.Quote(value) : "a section";

    /// <inheritdoc />
    public string? Text => section.Value;

    /// <inheritdoc />
    public IReadOnlyList<IParameterValue>? Items
    {
        get
        {
            if (!IsCompound)
            {
                return null;
            }

            var indexed = new List<(int Index, IConfigurationSection Child)>();
            foreach (var child in section.GetChildren())
            {
                if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    return null;
                }

                indexed.Add((index, child));
            }

            return [.. indexed.OrderBy(i => i.Index).Select(i => new ConfigurationParameterValue(i.Child))];
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, IParameterValue>>? Properties =>
        IsCompound
            ? [.. section.GetChildren().Select(c => new KeyValuePair<string, IParameterValue>(c.Key, new ConfigurationParameterValue(c)))]
            : null;

    private bool IsCompound => string.IsNullOrEmpty(section.Value);

    /// <inheritdoc />
    public bool TryGetString([NotNullWhen(true)] out string? value)
    {
        value = section.Value;
        return value is not null;
    }

    /// <inheritdoc />
    public bool TryGetInteger(out long value) =>
        long.TryParse(section.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    /// <inheritdoc />
    public bool TryGetNumber(out double value) =>
        double.TryParse(section.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    /// <inheritdoc />
    public bool TryGetBoolean(out bool value) => bool.TryParse(section.Value, out value);
}
