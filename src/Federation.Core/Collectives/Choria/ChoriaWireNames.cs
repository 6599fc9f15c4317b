namespace Federation.Core.Collectives.Choria;

/// <summary>
/// The JSON names of one transport version, taken from go-choria's struct tags (the schemas disagree in places: the v1
/// schema says <c>targets</c> where Go writes <c>target</c>, the v2 schema says <c>seen-by</c> where Go writes <c>trace</c>;
/// what Go writes is what travels).
/// </summary>
internal sealed record ChoriaWireNames(
    ChoriaProtocolVersion Version,
    string Protocol,
    string ReplyTo,
    string Sender,
    string SeenBy,
    string? SeenByAlias,
    string FederationRequestId,
    string FederationReplyTo,
    string FederationTargets)
{
    public const string ProtocolField = "protocol";
    public const string DataField = "data";
    public const string HeadersField = "headers";
    public const string FederationField = "federation";

    public static readonly ChoriaWireNames V1 = new(
        ChoriaProtocolVersion.V1, "choria:transport:1", "reply-to", "mc_sender", "seen-by", SeenByAlias: null, "req", "reply-to", "target");

    // The v2 schema documents the trail as "seen-by"; Go reads and writes "trace". Both are read, "trace" is written.
    public static readonly ChoriaWireNames V2 = new(
        ChoriaProtocolVersion.V2, "io.choria.protocol.v2.transport", "reply", "sender", "trace", SeenByAlias: "seen-by", "request", "reply", "targets");

    public static ChoriaWireNames For(ChoriaProtocolVersion version) => version == ChoriaProtocolVersion.V1 ? V1 : V2;

    /// <summary>The version whose protocol string is <paramref name="protocol"/>, or null.</summary>
    public static ChoriaWireNames? ForProtocol(string? protocol) =>
        string.Equals(protocol, V1.Protocol, StringComparison.Ordinal) ? V1
        : string.Equals(protocol, V2.Protocol, StringComparison.Ordinal) ? V2
        : null;

    /// <summary>A header field's full path for error messages, e.g. <c>headers.reply-to</c>.</summary>
    public static string Header(string name) => $"{HeadersField}.{name}";

    /// <summary>A federation field's full path for error messages, e.g. <c>headers.federation.req</c>.</summary>
    public static string Federation(string name) => $"{HeadersField}.{FederationField}.{name}";
}
