using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Federation.Core.Collectives.Choria;

/// <summary>
/// Writes a <see cref="ChoriaTransport"/> as go-choria's <c>json.Marshal</c> does: the struct's field order, empty fields
/// omitted where Go's tags say <c>omitempty</c>, <c>data</c> in standard base64 with padding. For ASCII text without
/// <c>&lt;</c>, <c>&gt;</c> and <c>&amp;</c> (identities, subjects, URLs) the bytes are identical to Go's; otherwise only
/// the string escaping differs (Go escapes those three as <c>\u003c</c> etc. and writes other non-ASCII raw).
/// </summary>
internal static class ChoriaTransportWriter
{
    // The relaxed encoder leaves '+' alone; the default one would write base64-looking text such as subjects as "\u002B".
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The transport's JSON bytes.</summary>
    public static ReadOnlyMemory<byte> Write(ChoriaTransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        var names = ChoriaWireNames.For(transport.Version);
        var buffer = new ArrayBufferWriter<byte>(transport.Data.Length * 4 / 3 + 512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString(ChoriaWireNames.ProtocolField, names.Protocol);
            writer.WriteBase64String(ChoriaWireNames.DataField, transport.Data.Span);
            writer.WriteStartObject(ChoriaWireNames.HeadersField);
            WriteIfPresent(writer, names.ReplyTo, transport.ReplyTo);
            WriteIfPresent(writer, names.Sender, transport.Sender);
            if (transport.SeenBy.Count > 0)
            {
                writer.WriteStartArray(names.SeenBy);
                foreach (var hop in transport.SeenBy)
                {
                    writer.WriteStartArray();
                    writer.WriteStringValue(hop.In);
                    writer.WriteStringValue(hop.Processor);
                    writer.WriteStringValue(hop.Out);
                    writer.WriteEndArray();
                }

                writer.WriteEndArray();
            }

            if (transport.Federation is { } federation)
            {
                writer.WriteStartObject(ChoriaWireNames.FederationField);
                WriteIfPresent(writer, names.FederationRequestId, federation.RequestId);
                WriteIfPresent(writer, names.FederationReplyTo, federation.ReplyTo);
                if (federation.Targets.Count > 0)
                {
                    writer.WriteStartArray(names.FederationTargets);
                    foreach (var target in federation.Targets)
                    {
                        writer.WriteStringValue(target);
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }

    private static void WriteIfPresent(Utf8JsonWriter writer, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            writer.WriteString(name, value);
        }
    }
}
