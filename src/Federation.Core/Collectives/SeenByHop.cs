using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;

namespace Federation.Core.Collectives;

/// <summary>One hop of the seen-by trail, as in Choria: the server the message came in on, who processed it, the server it left on.</summary>
/// <param name="In">The server the message was received from (a URL without credentials).</param>
/// <param name="Processor">The client identity or broker instance that handled it.</param>
/// <param name="Out">The server it was published to.</param>
public sealed record SeenByHop(string In, string Processor, string Out)
{
    /// <summary>The header value: a JSON array of three strings.</summary>
    public string Format()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteStringValue(In);
            writer.WriteStringValue(Processor);
            writer.WriteStringValue(Out);
            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Parses a <see cref="FederationHeaders.SeenBy"/> value; false when it is not an array of three strings.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out SeenByHop? hop)
    {
        hop = null;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(value);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() != 3
                || root.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            {
                return false;
            }

            hop = new SeenByHop(root[0].GetString()!, root[1].GetString()!, root[2].GetString()!);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate ("\ud800") parses as JSON, but GetString cannot give it as text.
            return false;
        }
        catch (ArgumentException)
        {
            // A raw lone surrogate in the value (a header handed over as a .NET string, as on the in-memory bus) cannot be
            // transcoded to the UTF-8 the parser reads.
            return false;
        }
    }
}
