namespace Federation.Nats.Protocol;

/// <summary>Wire-level constants of the NATS client protocol (nats-server 2.x).</summary>
internal static class NatsProtocol
{
    /// <summary>nats-server's MAX_CONTROL_LINE_SIZE: the longest control line (without CRLF) accepted from the server.</summary>
    public const int DefaultMaxControlLine = 4096;

    /// <summary>Payload limit used before the server's INFO has announced its own <c>max_payload</c>.</summary>
    public const long DefaultMaxPayload = 1024 * 1024;

    /// <summary>Extra bytes tolerated above the announced <c>max_payload</c> on received messages (header overhead of server-added headers).</summary>
    public const long PayloadSlack = 64 * 1024;

    /// <summary>Absolute cap on a received message's size whatever the server says (nats.net's MaxPayloadHardCap).</summary>
    public const long MaxPayloadHardCap = 64L * 1024 * 1024;

    /// <summary>The headers version line.</summary>
    public const string HeaderVersion = "NATS/1.0";

    /// <summary>Status code the server sends on a request that reached no subscriber.</summary>
    public const int NoRespondersStatus = 503;

    /// <summary>Language reported in CONNECT.</summary>
    public const string Lang = ".NET";

    /// <summary>Client version reported in CONNECT.</summary>
    public const string ClientVersion = "0.1.0";

    /// <summary>Protocol level 1: dynamic INFO updates, no_responders.</summary>
    public const int ProtocolLevel = 1;

    public static ReadOnlySpan<byte> CrLf => "\r\n"u8;

    public static ReadOnlySpan<byte> PingLine => "PING\r\n"u8;

    public static ReadOnlySpan<byte> PongLine => "PONG\r\n"u8;

    /// <summary>-ERR text for a rejected CONNECT (bad or missing credentials).</summary>
    public const string AuthorizationViolation = "Authorization Violation";

    /// <summary>-ERR text for an expired user JWT.</summary>
    public const string AuthenticationExpired = "User Authentication Expired";
}
