using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace Federation.Amqp.Messaging;

/// <summary>
/// Maps the subject SPI's ordered header fields to an AMQP headers table and back. A table has one entry per name, so the
/// values of a repeated name travel as an AMQP array, in order; names keep their spelling (the table is case-sensitive) and
/// the order of their first appearance. As on NATS, fields interleaved by name (<c>a, b, a</c>) come back grouped
/// (<c>a, a, b</c>). Values are UTF-8 long strings; values of other AMQP types (from other clients) arrive as invariant text, a nested table
/// or array as JSON.
/// </summary>
internal static class AmqpSubjectHeaders
{
    /// <summary>The headers table of an outgoing message, or null when it has none.</summary>
    public static Dictionary<string, object?>? ToAmqp(IReadOnlyList<KeyValuePair<string, string>>? fields)
    {
        if (fields is null || fields.Count == 0)
        {
            return null;
        }

        var table = new Dictionary<string, object?>(fields.Count, StringComparer.Ordinal);
        for (var i = 0; i < fields.Count; i++)
        {
            var (name, value) = fields[i];
            // A table key is an AMQP short string: RabbitMQ.Client would fail on a longer one with an encoder error that
            // names neither the header nor the limit. SubjectHeaderRules, checked first, keeps names ASCII: characters are bytes.
            if (name.Length > AmqpSubjects.MaxKeyBytes)
            {
                throw new ArgumentException(
                    $"Header name '{name[..32]}...' is {name.Length.ToString(CultureInfo.InvariantCulture)} bytes, over AMQP's limit of {AmqpSubjects.MaxKeyBytes} for a header-table key.", nameof(fields));
            }

            var bytes = Encoding.UTF8.GetBytes(value ?? string.Empty);
            if (!table.TryGetValue(name, out var earlier))
            {
                table[name] = bytes;
            }
            else if (earlier is List<object> values)
            {
                values.Add(bytes);
            }
            else
            {
                table[name] = new List<object> { earlier!, bytes };
            }
        }

        return table;
    }

    /// <summary>The fields of an incoming message, or null when it had none.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? FromAmqp(IDictionary<string, object?>? table)
    {
        if (table is null || table.Count == 0)
        {
            return null;
        }

        var fields = new List<KeyValuePair<string, string>>(table.Count);
        foreach (var (name, value) in table)
        {
            if (value is IList list and not byte[])
            {
                foreach (var item in list)
                {
                    fields.Add(new(name, Text(item)));
                }
            }
            else
            {
                fields.Add(new(name, Text(value)));
            }
        }

        return fields;
    }

    private static string Text(object? value) => value switch
    {
        null => string.Empty,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        // AMQP's byte array field type ('x', as amqplib writes a Buffer): its bytes as text, like a long string's.
        BinaryTableValue binary => Encoding.UTF8.GetString(binary.Bytes),
        string text => text,
        bool flag => flag ? "true" : "false",
        AmqpTimestamp timestamp => timestamp.UnixTime.ToString(CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        // A nested table or array (another client's): its content as JSON, not the name of a .NET type.
        IDictionary or IList => Json(value),
        _ => value.ToString() ?? string.Empty,
    };

    private static string Json(object value)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: non-ASCII text stays readable; control characters are still escaped.
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteJson(writer, value, depth: 0);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteJson(Utf8JsonWriter writer, object? value, int depth)
    {
        // The client reads tables to any depth a peer sends; the text stops where JSON's own default limit would.
        if (depth >= 64)
        {
            writer.WriteStringValue("...");
            return;
        }

        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case byte[]: // A long string, and an IList too: before the array case.
                writer.WriteStringValue(Text(value));
                break;
            case IDictionary table:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in table)
                {
                    writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty);
                    WriteJson(writer, entry.Value, depth + 1);
                }

                writer.WriteEndObject();
                break;
            case IList list:
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    WriteJson(writer, item, depth + 1);
                }

                writer.WriteEndArray();
                break;
            case IFormattable number when IsJsonNumber(number):
                writer.WriteRawValue(number.ToString(null, CultureInfo.InvariantCulture), skipInputValidation: false);
                break;
            default:
                writer.WriteStringValue(Text(value)); // Text, timestamps, NaN and infinity (JSON has no such numbers).
                break;
        }
    }

    private static bool IsJsonNumber(object value) => value switch
    {
        double number => double.IsFinite(number),
        float number => float.IsFinite(number),
        sbyte or byte or short or ushort or int or uint or long or ulong or decimal => true,
        _ => false,
    };
}
