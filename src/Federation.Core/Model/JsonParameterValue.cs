using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;

namespace Federation.Core.Model;

/// <summary>A JSON value as rabbitmqctl reads it: strictly typed, keys case-sensitive.</summary>
internal sealed class JsonParameterValue(JsonElement element) : IParameterValue
{
    /// <inheritdoc />
    public StringComparer KeyComparer => StringComparer.Ordinal;

    /// <inheritdoc />
    public string Display => element.ValueKind switch
    {
        JsonValueKind.String => ConfigurationErrorText.Quote(element.GetString()!),
        JsonValueKind.Array => "a JSON array",
        JsonValueKind.Object => "a JSON object",
        _ => "'" + element.GetRawText() + "'",
    };

    /// <inheritdoc />
    public string? Text => element.ValueKind == JsonValueKind.String ? element.GetString() : element.GetRawText();

    /// <inheritdoc />
    public IReadOnlyList<IParameterValue>? Items =>
        element.ValueKind == JsonValueKind.Array ? [.. element.EnumerateArray().Select(item => new JsonParameterValue(item))] : null;

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, IParameterValue>>? Properties =>
        element.ValueKind == JsonValueKind.Object
            ? [.. element.EnumerateObject().Select(p => new KeyValuePair<string, IParameterValue>(p.Name, new JsonParameterValue(p.Value)))]
            : null;

    /// <inheritdoc />
    public bool TryGetString([NotNullWhen(true)] out string? value)
    {
        value = element.ValueKind == JsonValueKind.String ? element.GetString() : null;
        return value is not null;
    }

    /// <inheritdoc />
    public bool TryGetInteger(out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value);
    }

    /// <inheritdoc />
    public bool TryGetNumber(out double value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out value);
    }

    /// <inheritdoc />
    public bool TryGetBoolean(out bool value)
    {
        value = element.ValueKind == JsonValueKind.True;
        return element.ValueKind is JsonValueKind.True or JsonValueKind.False;
    }

    /// <summary>
    /// Parses <paramref name="json"/> and reads it with <paramref name="read"/>; throws
    /// <see cref="FederationConfigurationException"/> with every error the read reported.
    /// </summary>
    public static T Read<T>(string json, Func<IParameterValue, ICollection<string>, T> read)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            // JsonException's message may quote the document, which may hold a password: report the position only.
            throw new FederationConfigurationException(string.Create(
                CultureInfo.InvariantCulture,
                $"invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}"));
        }

        using (document)
        {
            var errors = new List<string>();
            var result = read(new JsonParameterValue(document.RootElement), errors);
            return errors.Count == 0 ? result : throw new FederationConfigurationException(errors);
        }
    }
}
