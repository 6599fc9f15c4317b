using System.Globalization;
using Federation.Core.Transport;

namespace Federation.Amqp;

/// <summary>
/// A parsed <c>amqp://</c> or <c>amqps://</c> URI (RabbitMQ URI spec): user info, host, port, the URL-decoded vhost path
/// (empty or <c>/</c> means the vhost <c>/</c>, <c>%2f</c> is <c>/</c>), and the query parameters this transport understands.
/// </summary>
internal sealed record AmqpEndpoint(
    bool Tls,
    string Host,
    int Port,
    string User,
    string Password,
    string VirtualHost,
    TimeSpan Heartbeat,
    TimeSpan ConnectionTimeout,
    string? ServerName,
    int ManagementPort,
    string ManagementScheme,
    bool TopologyEnabled,
    string EventVirtualHost,
    string DisplayUri)
{
    /// <summary>The heartbeat when the URI does not set <c>heartbeat</c>.</summary>
    public static readonly TimeSpan DefaultHeartbeat = TimeSpan.FromSeconds(30);

    /// <summary>The connect timeout when the URI does not set <c>connection_timeout</c>.</summary>
    public static readonly TimeSpan DefaultConnectionTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Parses <paramref name="uri"/>; throws <see cref="ArgumentException"/> with a credential-free message when it is malformed.</summary>
    public static AmqpEndpoint Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var display = UriRedaction.Redact(uri);
        if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            // Uri would read "amqp://user:pa/ss@host" as the host "user" with a path: refuse instead of connecting there.
            throw new ArgumentException($"'{display}' {ambiguity}", nameof(uri));
        }

        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed)
            || (parsed.Scheme != AmqpTransport.AmqpScheme && parsed.Scheme != AmqpTransport.AmqpsScheme)
            || string.IsNullOrEmpty(parsed.Host))
        {
            throw new ArgumentException($"'{display}' is not an amqp:// or amqps:// URI with a host.", nameof(uri));
        }

        var tls = parsed.Scheme == AmqpTransport.AmqpsScheme;
        var user = "guest";
        var password = "guest";
        if (parsed.UserInfo.Length > 0)
        {
            var colon = parsed.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? parsed.UserInfo : parsed.UserInfo[..colon]);
            password = colon < 0 ? string.Empty : Uri.UnescapeDataString(parsed.UserInfo[(colon + 1)..]);
        }

        // AbsolutePath keeps %2f escaped, so a vhost containing '/' survives until we decode it here.
        var path = parsed.AbsolutePath.TrimStart('/');
        if (path.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{display}': the vhost must be a single path segment (encode '/' as %2f).", nameof(uri));
        }

        var virtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);
        var query = ParseQuery(parsed.Query, display);
        var host = parsed.HostNameType == UriHostNameType.IPv6 ? parsed.Host.Trim('[', ']') : parsed.Host;
        return new AmqpEndpoint(
            tls,
            host,
            parsed.IsDefaultPort || parsed.Port < 0 ? (tls ? 5671 : 5672) : parsed.Port,
            user,
            password,
            virtualHost,
            Seconds(query, "heartbeat", DefaultHeartbeat, display),
            Milliseconds(query, "connection_timeout", DefaultConnectionTimeout, display),
            query.GetValueOrDefault("server_name_indication"),
            Integer(query, "management-port", 15672, display),
            query.GetValueOrDefault("management-scheme") ?? (tls ? "https" : "http"),
            !string.Equals(query.GetValueOrDefault("topology"), "none", StringComparison.OrdinalIgnoreCase),
            query.GetValueOrDefault("event-vhost") ?? "/",
            display);
    }

    private static Dictionary<string, string> ParseQuery(string query, string display)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                // After an unencoded secret ("password=a&b"), a part may be a piece of the secret: name only what the display shows.
                var named = display.Contains(part, StringComparison.Ordinal) ? $"query parameter '{part}'" : "a query parameter after a masked one";
                throw new ArgumentException($"'{display}': {named} has no value.");
            }

            result[Uri.UnescapeDataString(part[..eq])] = Uri.UnescapeDataString(part[(eq + 1)..]);
        }

        return result;
    }

    private static int Integer(Dictionary<string, string> query, string key, int fallback, string display) =>
        !query.TryGetValue(key, out var text) ? fallback
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
        : throw new ArgumentException($"'{display}': '{key}' must be a non-negative integer.");

    // The RabbitMQ URI spec gives heartbeat in seconds and connection_timeout in milliseconds.
    private static TimeSpan Seconds(Dictionary<string, string> query, string key, TimeSpan fallback, string display) =>
        query.ContainsKey(key) ? TimeSpan.FromSeconds(Integer(query, key, 0, display)) : fallback;

    private static TimeSpan Milliseconds(Dictionary<string, string> query, string key, TimeSpan fallback, string display) =>
        query.ContainsKey(key) ? TimeSpan.FromMilliseconds(Integer(query, key, 0, display)) : fallback;
}
