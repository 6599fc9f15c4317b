using System.Diagnostics.CodeAnalysis;
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
    /// <summary>PEM file of the CA certificates that sign the server's certificate (<c>cacertfile</c>); null trusts the system store.</summary>
    public string? CaCertFile { get; init; }

    /// <summary>PEM file of the client certificate (<c>certfile</c>); null sends none.</summary>
    public string? CertFile { get; init; }

    /// <summary>PEM file of the client certificate's private key (<c>keyfile</c>); null when <see cref="CertFile"/> holds it.</summary>
    public string? KeyFile { get; init; }

    /// <summary><c>verify=verify_peer</c> (the default): the server's certificate must be valid for the server name.</summary>
    public bool VerifyPeer { get; init; } = true;

    /// <summary><c>auth_mechanism=external</c>: authenticate with the client certificate instead of user and password.</summary>
    public bool ExternalAuthentication { get; init; }

    /// <summary>
    /// How long one management API call may take, answer included (<c>management-timeout</c>). A management listener that
    /// accepts connections and never answers would otherwise hold a link in <c>starting</c>.
    /// </summary>
    public TimeSpan ManagementTimeout { get; init; } = DefaultManagementTimeout;

    /// <summary>The heartbeat when the URI does not set <c>heartbeat</c>.</summary>
    public static readonly TimeSpan DefaultHeartbeat = TimeSpan.FromSeconds(30);

    /// <summary>The connect timeout when the URI does not set <c>connection_timeout</c>.</summary>
    public static readonly TimeSpan DefaultConnectionTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The management API call timeout when the URI does not set <c>management-timeout</c>: a healthy broker answers these
    /// calls in milliseconds, and a link that waits longer is better shown in error, naming the cause, and retried.
    /// </summary>
    public static readonly TimeSpan DefaultManagementTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest <c>management-timeout</c> accepted: the engine's connect backstop, so that no management call waits
    /// longer than a connect attempt may.
    /// </summary>
    public const int MaxManagementTimeoutMilliseconds = 120_000;

    /// <summary>Query key: heartbeat in seconds (0 disables heartbeats).</summary>
    public const string HeartbeatKey = "heartbeat";

    /// <summary>Query key: connect timeout in milliseconds.</summary>
    public const string ConnectionTimeoutKey = "connection_timeout";

    /// <summary>Query key: the TLS server name for <c>amqps</c>.</summary>
    public const string ServerNameIndicationKey = "server_name_indication";

    /// <summary>Query key: PEM file of the CA certificates to check the server's certificate against.</summary>
    public const string CaCertFileKey = "cacertfile";

    /// <summary>Query key: PEM file of the client certificate.</summary>
    public const string CertFileKey = "certfile";

    /// <summary>Query key: PEM file of the client certificate's private key.</summary>
    public const string KeyFileKey = "keyfile";

    /// <summary>Query key: <c>verify_peer</c> or <c>verify_none</c>.</summary>
    public const string VerifyKey = "verify";

    /// <summary>Query key: <c>plain</c> or <c>external</c> (the client certificate names the user).</summary>
    public const string AuthMechanismKey = "auth_mechanism";

    /// <summary>Query key: port of the management HTTP API.</summary>
    public const string ManagementPortKey = "management-port";

    /// <summary>Query key: <c>http</c> or <c>https</c> for the management HTTP API.</summary>
    public const string ManagementSchemeKey = "management-scheme";

    /// <summary>Query key: timeout of one management HTTP API call, in milliseconds.</summary>
    public const string ManagementTimeoutKey = "management-timeout";

    /// <summary>Query key: <c>events</c> or <c>none</c>.</summary>
    public const string TopologyKey = "topology";

    /// <summary>Query key: the vhost holding <c>amq.rabbitmq.event</c>.</summary>
    public const string EventVirtualHostKey = "event-vhost";

    /// <summary>
    /// Every query key this transport understands, in one place: the parser rejects any other (a misspelt or unsupported
    /// key would otherwise be silently ignored).
    /// </summary>
    public static readonly IReadOnlyList<string> QueryKeys =
        [HeartbeatKey, ConnectionTimeoutKey, ServerNameIndicationKey, CaCertFileKey, CertFileKey, KeyFileKey, VerifyKey, AuthMechanismKey,
         ManagementPortKey, ManagementSchemeKey, ManagementTimeoutKey, TopologyKey, EventVirtualHostKey];

    /// <summary>The keys that only make sense over TLS: on an <c>amqp://</c> URI they would promise a protection the link lacks.</summary>
    private static readonly string[] TlsOnlyKeys = [CaCertFileKey, CertFileKey, KeyFileKey, VerifyKey];

    /// <summary>
    /// The time one connect attempt may take, TCP connect and AMQP handshake together: <c>connection_timeout</c>, or
    /// <see cref="DefaultConnectionTimeout"/> when it is 0 (there is no "wait forever").
    /// </summary>
    public TimeSpan ConnectDeadline => ConnectionTimeout > TimeSpan.Zero ? ConnectionTimeout : DefaultConnectionTimeout;

    /// <summary>Parses <paramref name="uri"/>; throws <see cref="ArgumentException"/> with a credential-free message when it is malformed.</summary>
    public static AmqpEndpoint Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return TryParse(uri, out var endpoint, out var problems)
            ? endpoint
            : throw new ArgumentException($"'{UriRedaction.Redact(uri)}' {string.Join("; ", problems)}.", nameof(uri));
    }

    /// <summary>What is wrong with <paramref name="uri"/>, one sentence per problem without the URI or credentials; empty when it parses.</summary>
    public static IReadOnlyList<string> Problems(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        _ = TryParse(uri, out _, out var problems);
        return problems;
    }

    private static bool TryParse(string uri, [NotNullWhen(true)] out AmqpEndpoint? endpoint, out List<string> problems)
    {
        endpoint = null;
        problems = [];
        var display = UriRedaction.Redact(uri);
        if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            // Uri would read "amqp://user:pa/ss@host" as the host "user" with a path: refuse instead of connecting there.
            problems.Add(ambiguity.TrimEnd('.'));
            return false;
        }

        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed)
            || (parsed.Scheme != AmqpTransport.AmqpScheme && parsed.Scheme != AmqpTransport.AmqpsScheme)
            || string.IsNullOrEmpty(parsed.Host))
        {
            problems.Add("is not an amqp:// or amqps:// URI with a host");
            return false;
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
            problems.Add("has a vhost of more than one path segment (encode '/' as %2f)");
        }

        var virtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);
        var query = ParseQuery(parsed.Query, display, problems);
        var heartbeat = Integer(query, HeartbeatKey, 0, ushort.MaxValue, problems); // AMQP negotiates it as a short
        var connectionTimeout = Integer(query, ConnectionTimeoutKey, 0, int.MaxValue, problems);
        var managementPort = Integer(query, ManagementPortKey, 1, 65535, problems);
        var managementScheme = OneOf(query, ManagementSchemeKey, ["http", "https"], problems);
        var managementTimeout = Integer(query, ManagementTimeoutKey, 1, MaxManagementTimeoutMilliseconds, problems);
        var topology = OneOf(query, TopologyKey, ["events", "none"], problems);
        var verify = OneOf(query, VerifyKey, ["verify_peer", "verify_none"], problems);
        var authMechanism = OneOf(query, AuthMechanismKey, ["plain", "external"], problems);
        CheckTls(query, tls, authMechanism == "external", problems);
        if (problems.Count > 0)
        {
            return false;
        }

        var host = parsed.HostNameType == UriHostNameType.IPv6 ? parsed.Host.Trim('[', ']') : parsed.Host;
        endpoint = new AmqpEndpoint(
            tls,
            host,
            parsed.IsDefaultPort || parsed.Port < 0 ? (tls ? 5671 : 5672) : parsed.Port,
            user,
            password,
            virtualHost,
            heartbeat is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultHeartbeat,
            connectionTimeout is { } milliseconds ? TimeSpan.FromMilliseconds(milliseconds) : DefaultConnectionTimeout,
            query.GetValueOrDefault(ServerNameIndicationKey),
            managementPort ?? 15672,
            managementScheme ?? (tls ? "https" : "http"),
            !string.Equals(topology, "none", StringComparison.OrdinalIgnoreCase),
            query.GetValueOrDefault(EventVirtualHostKey) ?? "/",
            display)
        {
            CaCertFile = query.GetValueOrDefault(CaCertFileKey),
            CertFile = query.GetValueOrDefault(CertFileKey),
            KeyFile = query.GetValueOrDefault(KeyFileKey),
            VerifyPeer = verify != "verify_none",
            ExternalAuthentication = authMechanism == "external",
            ManagementTimeout = managementTimeout is { } timeout ? TimeSpan.FromMilliseconds(timeout) : DefaultManagementTimeout,
        };
        return true;
    }

    /// <summary>
    /// The TLS keys must agree with each other and their files must be usable now, so a typo fails the configuration
    /// rather than every connect. Problems name the key, never the path (redaction masks these values, as some clients
    /// take inline key material there) nor what a file contains.
    /// </summary>
    private static void CheckTls(Dictionary<string, string> query, bool tls, bool external, List<string> problems)
    {
        if (!tls)
        {
            foreach (var key in TlsOnlyKeys.Where(query.ContainsKey))
            {
                problems.Add($"has the query key '{key}', which only amqps:// URIs use (this URI would connect without TLS)");
            }

            if (external)
            {
                problems.Add($"has '{AuthMechanismKey}=external', which needs an amqps:// URI with a client certificate ('{CertFileKey}')");
            }

            return;
        }

        var caCertFile = query.GetValueOrDefault(CaCertFileKey);
        var certFile = query.GetValueOrDefault(CertFileKey);
        var keyFile = query.GetValueOrDefault(KeyFileKey);
        if (caCertFile is not null && AmqpTlsFiles.CaCertificateProblem(caCertFile) is { } caProblem)
        {
            problems.Add($"has '{CaCertFileKey}': {caProblem}");
        }

        if (keyFile is not null && certFile is null)
        {
            problems.Add($"has '{KeyFileKey}' without '{CertFileKey}': the key belongs to a client certificate");
        }
        else if (certFile is not null && AmqpTlsFiles.ReadableProblem(certFile) is { } certFileProblem)
        {
            // Each file on its own first, so that the one that is missing or unreadable is named.
            problems.Add($"has '{CertFileKey}': {certFileProblem}");
        }
        else if (keyFile is not null && AmqpTlsFiles.ReadableProblem(keyFile) is { } keyFileProblem)
        {
            problems.Add($"has '{KeyFileKey}': {keyFileProblem}");
        }
        else if (certFile is not null && AmqpTlsFiles.ClientCertificateProblem(certFile, keyFile) is { } certProblem)
        {
            problems.Add(keyFile is null ? $"has '{CertFileKey}': {certProblem}" : $"has '{CertFileKey}' and '{KeyFileKey}': {certProblem}");
        }

        if (external && certFile is null)
        {
            problems.Add($"has '{AuthMechanismKey}=external' without '{CertFileKey}': EXTERNAL authenticates with the client certificate");
        }
    }

    private static Dictionary<string, string> ParseQuery(string query, string display, List<string> problems)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            if (!QueryKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                // After an unencoded secret ("password=a&b"), a part may be a piece of the secret: name only what the redacted URI shows.
                var named = UriRedaction.ShowsQueryKey(display, eq < 0 ? part : part[..eq]) ? $"the query key '{key}'" : "a query key after a masked one";
                problems.Add($"has {named}, which amqp:// and amqps:// URIs do not understand (they accept {string.Join(", ", QueryKeys)})");
            }
            else if (eq <= 0)
            {
                problems.Add($"has the query key '{key}' without a value");
            }
            else if (!result.TryAdd(key, Uri.UnescapeDataString(part[(eq + 1)..])))
            {
                // Which one should win is anybody's guess; a silent "last wins" hides the typo or the copy-paste.
                problems.Add($"has the query key '{key}' more than once");
            }
        }

        return result;
    }

    private static int? Integer(Dictionary<string, string> query, string key, int min, int max, List<string> problems)
    {
        if (!query.TryGetValue(key, out var text))
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        problems.Add(string.Create(CultureInfo.InvariantCulture, $"has '{key}={text}': it must be an integer from {min} to {max}"));
        return null;
    }

    private static string? OneOf(Dictionary<string, string> query, string key, string[] choices, List<string> problems)
    {
        if (!query.TryGetValue(key, out var text))
        {
            return null;
        }

        if (choices.Contains(text, StringComparer.OrdinalIgnoreCase))
        {
            return text.ToLowerInvariant();
        }

        problems.Add($"has '{key}={text}': it must be one of {string.Join(", ", choices)}");
        return null;
    }
}
