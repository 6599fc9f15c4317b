using System.Text.Json;

namespace Federation.Amqp;

/// <summary>Converts argument tables between JSON (management API) and the normalised header representation.</summary>
internal static class ManagementJson
{
    /// <summary>Reads an optional JSON object property as a table; <see langword="null"/> when absent or empty.</summary>
    public static IReadOnlyDictionary<string, object?>? ReadTable(JsonElement parent, string property) =>
        parent.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Any()
            ? (Dictionary<string, object?>?)Read(value)
            : null;

    /// <summary>Converts one JSON value: integers become <see cref="long"/> (RabbitMQ stores JSON numbers as long).</summary>
    public static object? Read(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        // The casts matter: "long : double" would make the conditional a double, turning every integer into a double.
        JsonValueKind.Number => value.TryGetInt64(out var integer) ? (object)integer : value.GetDouble(),
        JsonValueKind.Array => value.EnumerateArray().Select(Read).ToList(),
        JsonValueKind.Object => value.EnumerateObject().ToDictionary(p => p.Name, p => Read(p.Value), StringComparer.Ordinal),
        _ => null,
    };

    /// <summary>Writes a table as a JSON object.</summary>
    public static void WriteTable(Utf8JsonWriter writer, IEnumerable<KeyValuePair<string, object?>>? table)
    {
        writer.WriteStartObject();
        foreach (var (key, value) in table ?? [])
        {
            writer.WritePropertyName(key);
            Write(writer, value);
        }

        writer.WriteEndObject();
    }

    private static void Write(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case byte[] bytes:
                writer.WriteStringValue(System.Text.Encoding.UTF8.GetString(bytes));
                break;
            case float or double or decimal:
                writer.WriteNumberValue(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case sbyte or byte or short or ushort or int or uint or long:
                writer.WriteNumberValue(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case DateTimeOffset timestamp:
                writer.WriteNumberValue(timestamp.ToUnixTimeSeconds());
                break;
            case IEnumerable<KeyValuePair<string, object?>> table:
                WriteTable(writer, table);
                break;
            case System.Collections.IList list:
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
        }
    }
}
