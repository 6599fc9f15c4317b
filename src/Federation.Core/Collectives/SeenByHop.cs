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

    // Strict, as JsonDocument.Parse(string) is for TryParse: a lone surrogate is not text.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Whether a <see cref="FederationHeaders.SeenBy"/> value is what <see cref="TryParse"/> accepts, a JSON array of three
    /// strings, without building the hop: the broker checks every hop of every message it relays, and passes them on as
    /// they came. No allocation for values up to 255 characters without escapes.
    /// </summary>
    internal static bool IsWellFormed(string value)
    {
        if (value.Length == 0)
        {
            return false;
        }

        const int StackLimit = 768;
        var maxBytes = StrictUtf8.GetMaxByteCount(value.Length);
        byte[]? rented = maxBytes > StackLimit ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        try
        {
            Span<byte> utf8 = rented is not null ? rented : stackalloc byte[StackLimit];
            var length = StrictUtf8.GetBytes(value, utf8);
            var reader = new Utf8JsonReader(utf8[..length], new JsonReaderOptions { MaxDepth = 2 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                return false;
            }

            for (var i = 0; i < 3; i++)
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                {
                    return false;
                }

                if (reader.ValueIsEscaped)
                {
                    _ = reader.GetString(); // throws InvalidOperationException for an escaped lone surrogate, as TryParse's does
                }
            }

            return reader.Read() && reader.TokenType == JsonTokenType.EndArray && !reader.Read();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            // Not JSON, trailing content, an escaped lone surrogate, or a raw one the strict encoding refuses.
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
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
