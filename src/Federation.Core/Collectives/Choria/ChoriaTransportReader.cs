using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Federation.Core.Collectives.Choria;

/// <summary>
/// Reads Choria's transport JSON (<see cref="ChoriaTransport"/>). It follows go-choria's decoder where the schema and Go
/// agree, and is stricter where leniency would hide an attack or a bug: a field that appears twice, a trail entry that is
/// not exactly three strings and <c>data</c> that is not base64 are errors. Every error names the field. Nothing throws.
/// </summary>
/// <remarks>
/// <see cref="JsonDocument"/> checks the structure, not the text inside strings: a string or a field name with bytes that
/// are not UTF-8 (or an escaped lone surrogate) parses, and only <see cref="JsonElement.GetString"/> (or
/// <see cref="JsonProperty.Name"/>, or <see cref="JsonElement.TryGetBytesFromBase64"/> for an escaped lone surrogate)
/// throws. So every string is read through <see cref="TryGetString"/> or <see cref="TryGetBase64"/>, which turn that into
/// an error naming the field.
/// </remarks>
internal static class ChoriaTransportReader
{
    /// <summary>
    /// Largest message read: 8 MiB, the largest <c>max_payload</c> nats-server accepts without a warning. A larger message
    /// is refused before it is parsed.
    /// </summary>
    public const int MaxMessageBytes = 8 * 1024 * 1024;

    // The deepest Choria nesting is headers.seen-by[i][j] (depth 4); anything much deeper is not a transport.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8 };

    /// <summary>Reads <paramref name="json"/>; returns why it is not an acceptable transport, or null.</summary>
    /// <param name="json">The message body.</param>
    /// <param name="accepted">The one version accepted, or null for either.</param>
    /// <param name="transport">The transport when the result is null.</param>
    public static string? TryRead(ReadOnlyMemory<byte> json, ChoriaProtocolVersion? accepted, out ChoriaTransport? transport)
    {
        transport = null;
        if (json.Length > MaxMessageBytes)
        {
            return $"the message is {json.Length} bytes, more than the {MaxMessageBytes} a Choria transport may have";
        }

        if (json.IsEmpty)
        {
            return "the message is empty, not a Choria transport";
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException error)
        {
            return $"the message is not valid JSON: {error.Message}";
        }

        using (document)
        {
            try
            {
                return Read(document.RootElement, accepted, out transport);
            }
            catch (InvalidOperationException error)
            {
                // Every string is read through TryGetString or TryGetBase64; this only keeps the promise that nothing
                // throws should a read be added without them.
                transport = null;
                return $"the message is not a readable Choria transport: {error.Message}";
            }
        }
    }

    private static string? Read(JsonElement root, ChoriaProtocolVersion? accepted, out ChoriaTransport? transport)
    {
        transport = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return $"the message is a JSON {Kind(root)}, not a Choria transport object";
        }

        if (Fields(root, string.Empty, out var top) is { } duplicate)
        {
            return duplicate;
        }

        if (ReadProtocol(top, accepted, out var names) is { } protocolError)
        {
            return protocolError;
        }

        if (!top.TryGetValue(ChoriaWireNames.DataField, out var dataElement))
        {
            return $"{ChoriaWireNames.DataField}: missing";
        }

        if (dataElement.ValueKind != JsonValueKind.String)
        {
            return $"{ChoriaWireNames.DataField}: expected a base64 string, got {Kind(dataElement)}";
        }

        if (!TryGetBase64(dataElement, out var data))
        {
            return $"{ChoriaWireNames.DataField}: not valid base64";
        }

        if (!top.TryGetValue(ChoriaWireNames.HeadersField, out var headersElement) || headersElement.ValueKind == JsonValueKind.Null)
        {
            return $"{ChoriaWireNames.HeadersField}: missing";
        }

        if (headersElement.ValueKind != JsonValueKind.Object)
        {
            return $"{ChoriaWireNames.HeadersField}: expected an object, got {Kind(headersElement)}";
        }

        if (Fields(headersElement, ChoriaWireNames.HeadersField + ".", out var headers) is { } headerDuplicate)
        {
            return headerDuplicate;
        }

        if (OptionalString(headers, names.ReplyTo, ChoriaWireNames.Header(names.ReplyTo), out var replyTo) is { } replyError)
        {
            return replyError;
        }

        if (OptionalString(headers, names.Sender, ChoriaWireNames.Header(names.Sender), out var sender) is { } senderError)
        {
            return senderError;
        }

        if (ReadTrail(headers, names, out var trail) is { } trailError)
        {
            return trailError;
        }

        if (ReadFederation(headers, names, out var federation) is { } federationError)
        {
            return federationError;
        }

        transport = new ChoriaTransport
        {
            Version = names.Version,
            Data = data,
            ReplyTo = replyTo,
            Sender = sender,
            SeenBy = trail,
            Federation = federation,
        };
        return null;
    }

    private static string? ReadProtocol(Dictionary<string, JsonElement> top, ChoriaProtocolVersion? accepted, out ChoriaWireNames names)
    {
        names = ChoriaWireNames.V1;
        if (!top.TryGetValue(ChoriaWireNames.ProtocolField, out var element))
        {
            return $"{ChoriaWireNames.ProtocolField}: missing";
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            return $"{ChoriaWireNames.ProtocolField}: expected a string, got {Kind(element)}";
        }

        if (!TryGetString(element, out var protocol))
        {
            return $"{ChoriaWireNames.ProtocolField}: {NotText}";
        }

        var expected = accepted is { } version
            ? $"'{ChoriaWireNames.For(version).Protocol}'"
            : $"'{ChoriaWireNames.V1.Protocol}' or '{ChoriaWireNames.V2.Protocol}'";
        if (ChoriaWireNames.ForProtocol(protocol) is not { } found || (accepted is { } only && found.Version != only))
        {
            return $"{ChoriaWireNames.ProtocolField}: '{Shorten(protocol)}' is not accepted (expected {expected})";
        }

        names = found;
        return null;
    }

    private static string? ReadTrail(Dictionary<string, JsonElement> headers, ChoriaWireNames names, out IReadOnlyList<SeenByHop> trail)
    {
        trail = [];
        var name = names.SeenBy;
        var found = headers.TryGetValue(name, out var element);
        if (names.SeenByAlias is { } alias && headers.TryGetValue(alias, out var aliased))
        {
            if (found)
            {
                return $"{ChoriaWireNames.Header(name)} and {ChoriaWireNames.Header(alias)}: both present, only one trail is allowed";
            }

            (name, element, found) = (alias, aliased, true);
        }

        if (!found || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var path = ChoriaWireNames.Header(name);
        if (element.ValueKind != JsonValueKind.Array)
        {
            return $"{path}: expected an array of [in, processor, out] arrays, got {Kind(element)}";
        }

        var hops = new List<SeenByHop>(element.GetArrayLength());
        var index = 0;
        foreach (var hop in element.EnumerateArray())
        {
            if (hop.ValueKind != JsonValueKind.Array || hop.GetArrayLength() != 3 || hop.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            {
                return $"{path}[{index}]: expected an array of 3 strings, got {Describe(hop)}";
            }

            if (!TryGetString(hop[0], out var hopIn) || !TryGetString(hop[1], out var processor) || !TryGetString(hop[2], out var hopOut))
            {
                return $"{path}[{index}]: {NotText}";
            }

            hops.Add(new SeenByHop(hopIn!, processor!, hopOut!));
            index++;
        }

        trail = hops;
        return null;
    }

    private static string? ReadFederation(Dictionary<string, JsonElement> headers, ChoriaWireNames names, out ChoriaFederationHeader? federation)
    {
        federation = null;
        if (!headers.TryGetValue(ChoriaWireNames.FederationField, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var path = ChoriaWireNames.Header(ChoriaWireNames.FederationField);
        if (element.ValueKind != JsonValueKind.Object)
        {
            return $"{path}: expected an object, got {Kind(element)}";
        }

        if (Fields(element, path + ".", out var fields) is { } duplicate)
        {
            return duplicate;
        }

        if (OptionalString(fields, names.FederationRequestId, ChoriaWireNames.Federation(names.FederationRequestId), out var requestId) is { } idError)
        {
            return idError;
        }

        if (OptionalString(fields, names.FederationReplyTo, ChoriaWireNames.Federation(names.FederationReplyTo), out var replyTo) is { } replyError)
        {
            return replyError;
        }

        var targets = new List<string>();
        if (fields.TryGetValue(names.FederationTargets, out var targetsElement) && targetsElement.ValueKind != JsonValueKind.Null)
        {
            var targetsPath = ChoriaWireNames.Federation(names.FederationTargets);
            if (targetsElement.ValueKind != JsonValueKind.Array)
            {
                return $"{targetsPath}: expected an array of strings, got {Kind(targetsElement)}";
            }

            var index = 0;
            foreach (var target in targetsElement.EnumerateArray())
            {
                if (target.ValueKind != JsonValueKind.String)
                {
                    return $"{targetsPath}[{index}]: expected a string, got {Kind(target)}";
                }

                if (!TryGetString(target, out var text))
                {
                    return $"{targetsPath}[{index}]: {NotText}";
                }

                targets.Add(text!);
                index++;
            }
        }

        federation = new ChoriaFederationHeader(requestId, replyTo, targets);
        return null;
    }

    /// <summary>Reads an optional string; null and "" both mean absent (Go's <c>omitempty</c> makes them equivalent).</summary>
    private static string? OptionalString(Dictionary<string, JsonElement> fields, string name, string path, out string? value)
    {
        value = null;
        if (!fields.TryGetValue(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            return $"{path}: expected a string, got {Kind(element)}";
        }

        if (!TryGetString(element, out var text))
        {
            return $"{path}: {NotText}";
        }

        value = string.IsNullOrEmpty(text) ? null : text;
        return null;
    }

    private const string NotText = "not valid UTF-8 text";

    /// <summary>The bytes of a base64 string; false when it is not base64 (an escaped lone surrogate in it throws).</summary>
    private static bool TryGetBase64(JsonElement element, [NotNullWhen(true)] out byte[]? bytes)
    {
        try
        {
            return element.TryGetBytesFromBase64(out bytes);
        }
        catch (InvalidOperationException)
        {
            bytes = null;
            return false;
        }
    }

    /// <summary>The string's text; false when its bytes are not UTF-8 or it escapes a lone surrogate (no .NET string holds it faithfully).</summary>
    private static bool TryGetString(JsonElement element, out string? text)
    {
        try
        {
            text = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            text = null;
            return false;
        }
    }

    /// <summary>The object's fields by name; a name that appears twice is an error (Go would silently keep the last).</summary>
    private static string? Fields(JsonElement obj, string pathPrefix, out Dictionary<string, JsonElement> fields)
    {
        fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in obj.EnumerateObject())
        {
            string name;
            try
            {
                name = property.Name;
            }
            catch (InvalidOperationException)
            {
                return $"{(pathPrefix.Length == 0 ? "the message" : pathPrefix.TrimEnd('.'))}: a field name is {NotText}";
            }

            if (!fields.TryAdd(name, property.Value))
            {
                return $"{pathPrefix}{Shorten(name)}: appears more than once";
            }
        }

        return null;
    }

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    private static string Describe(JsonElement element) =>
        element.ValueKind == JsonValueKind.Array ? $"an array of {element.GetArrayLength()} element(s)" : Kind(element);

    private static string Shorten(string? value) => value is null ? string.Empty : value.Length <= 64 ? value : value[..64] + "...";
}
