using System.Globalization;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Leases;

namespace Federation.Nats.Transport;

/// <summary>
/// The settings of a NATS transport URI: <c>nats://[user:password@|token@]host[:port][?key=value&amp;...]</c> (or <c>tls://</c>).
/// The query is removed before connecting; unknown keys and bad values are rejected naming the key.
/// </summary>
internal sealed record NatsUriSettings(string ServerUrl, string? ClusterName, int? MonitorPort, string Host, TimeSpan MonitorInterval, IReadOnlyList<string> Namespaces, TimeSpan ConnectTimeout)
{
    /// <summary>TLS and login: the scheme, the user-info and the keys of <see cref="NatsSecuritySettings.QueryKeys"/>.</summary>
    public NatsSecuritySettings Security { get; init; } = NatsSecuritySettings.None;

    /// <summary>The connect deadline when the URI gives no <c>connect-timeout-ms</c>.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Query key: this deployment's federation identity.</summary>
    public const string ClusterNameKey = "cluster-name";

    /// <summary>Query key: the server's HTTP monitoring port.</summary>
    public const string MonitorPortKey = "monitor-port";

    /// <summary>Query key: the monitoring poll interval in milliseconds.</summary>
    public const string MonitorIntervalKey = "monitor-interval-ms";

    /// <summary>Query key: comma-separated exchange names reported as existing from the start.</summary>
    public const string NamespacesKey = "namespaces";

    /// <summary>Query key: the whole connect attempt's deadline in milliseconds.</summary>
    public const string ConnectTimeoutKey = "connect-timeout-ms";

    /// <summary>Every query key this transport understands, in one place: the parser rejects any other.</summary>
    public static readonly IReadOnlyList<string> QueryKeys = [ClusterNameKey, MonitorPortKey, MonitorIntervalKey, NamespacesKey, ConnectTimeoutKey, .. NatsSecuritySettings.QueryKeys, .. JetStreamUriSettings.QueryKeys, .. NatsLeaseSettings.QueryKeys];

    /// <summary>JetStream mode (<c>jetstream=true</c> and its keys), or null for core NATS.</summary>
    public JetStreamUriSettings? JetStream { get; init; }

    /// <summary>Link leases: on or off, their key-value bucket and time-to-live.</summary>
    public NatsLeaseSettings Leases { get; init; } = NatsLeaseSettings.Default;

    // Keys other NATS clients take for credentials. They would not be used to log in here, so they are refused with a hint.
    private static readonly string[] CredentialKeys = ["user", "username", "pass", "password", "token", "auth_token"];

    /// <exception cref="ArgumentException">The URI is malformed or has an unknown or invalid query key; the message has no credentials.</exception>
    public static NatsUriSettings Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return TryParse(uri, out var settings, out var problems)
            ? settings
            : throw new ArgumentException($"'{UriRedaction.Redact(uri)}' {string.Join("; ", problems)}.", nameof(uri));
    }

    /// <summary>
    /// The settings to connect with. The URI was validated when the configuration loaded, files included; a file that
    /// cannot be used now (deleted, unreadable or rewritten since) fails this connect attempt naming its key, as a
    /// connect failure the engine retries and shows on the link, not as an invalid URI.
    /// </summary>
    /// <exception cref="ArgumentException">The URI itself is invalid, as for <see cref="Parse"/>.</exception>
    /// <exception cref="Core.Transport.BrokerUnreachableException">Only a file the URI names is the problem.</exception>
    public static NatsUriSettings ParseToConnect(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (TryParse(uri, out var settings, out var problems))
        {
            return settings;
        }

        if (TryParse(uri, out _, out _, checkFiles: false))
        {
            throw NatsSecuritySettings.FileGoneAtConnect(problems, uri);
        }

        throw new ArgumentException($"'{UriRedaction.Redact(uri)}' {string.Join("; ", problems)}.", nameof(uri));
    }

    /// <summary>What is wrong with <paramref name="uri"/>, one sentence per problem without the URI or credentials; empty when it parses.</summary>
    public static IReadOnlyList<string> Problems(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        _ = TryParse(uri, out _, out var problems);
        return problems;
    }

    private static bool TryParse(string uri, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NatsUriSettings? settings, out List<string> problems, bool checkFiles = true)
    {
        settings = null;
        problems = [];
        var query = uri.IndexOf('?', StringComparison.Ordinal);
        var server = query < 0 ? uri : uri[..query];
        string? cluster = null;
        int? monitor = null;
        var interval = TimeSpan.FromSeconds(1);
        var connectTimeout = DefaultConnectTimeout;
        IReadOnlyList<string> namespaces = [];
        var jetStream = new JetStreamUriSettings.Builder();
        var leases = NatsLeaseSettings.Default;
        var queryText = query < 0 ? "" : uri[(query + 1)..];
        if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            // "nats://TOK/EN@host" would make the client look up the host "TOK": refuse before anything connects.
            problems.Add(ambiguity.TrimEnd('.'));
            return false;
        }

        var display = UriRedaction.Redact(uri);
        var security = new Dictionary<string, string>(StringComparer.Ordinal);
        var hasCredentialKey = false;

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in queryText.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? part : part[..eq];
            var value = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..]);
            if (!seen.Add(key))
            {
                // Which one should win is anybody's guess; a silent "last wins" hides the typo or the copy-paste.
                problems.Add($"has {(UriRedaction.ShowsQueryKey(display, key) ? $"the query key '{key}'" : "a query key after a masked one")} more than once");
                continue;
            }

            switch (key)
            {
                case ClusterNameKey when value.Length > 0: cluster = value; break;
                case MonitorPortKey when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535: monitor = port; break;
                case MonitorPortKey: problems.Add($"has '{MonitorPortKey}={value}': it must be a port from 1 to 65535"); break;
                case MonitorIntervalKey when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms > 0: interval = TimeSpan.FromMilliseconds(ms); break;
                case MonitorIntervalKey: problems.Add($"has '{MonitorIntervalKey}={value}': it must be a positive number of milliseconds"); break;
                case ConnectTimeoutKey when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var timeout) && timeout > 0: connectTimeout = TimeSpan.FromMilliseconds(timeout); break;
                case ConnectTimeoutKey: problems.Add($"has '{ConnectTimeoutKey}={value}': it must be a positive number of milliseconds"); break;
                case NamespacesKey:
                    namespaces = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    foreach (var name in namespaces.Where(static n => !NatsSubjectMapping.IsSubjectPrefix(n)))
                    {
                        // A wildcard here would have a JetStream downstream create a stream capturing other applications' subjects.
                        problems.Add($"has '{NamespacesKey}' with '{name}', which is not a subject prefix (tokens without wildcards, '#', whitespace or empty ones)");
                    }

                    break;
                case var _ when JetStreamUriSettings.QueryKeys.Contains(key): jetStream.Read(key, value, problems); break;
                case var _ when NatsLeaseSettings.QueryKeys.Contains(key): leases = NatsLeaseSettings.Read(leases, key, value, problems); break;
                case var _ when NatsSecuritySettings.QueryKeys.Contains(key, StringComparer.Ordinal): security[key] = value; break;
                case ClusterNameKey: problems.Add($"has an empty '{ClusterNameKey}'; leave it out to use the server's name"); break;
                case var _ when CredentialKeys.Contains(key, StringComparer.OrdinalIgnoreCase):
                    // The value is a secret: name the key only. An unencoded secret may run on into what looks like
                    // other keys ("token=a&certfile=b"), so no file path of this URI is quoted either.
                    hasCredentialKey = true;
                    problems.Add($"has the query key '{key}', which is not used to log in; put credentials in the user-info (nats://user:password@host or nats://token@host)");
                    break;
                default:
                    // After an unencoded secret ("password=a&b"), a part may be a piece of the secret: name only what the redacted URI shows.
                    problems.Add($"has {(UriRedaction.ShowsQueryKey(display, key) ? $"the query key '{key}'" : "a query key after a masked one")}, which nats:// and tls:// URIs do not understand (they accept {string.Join(", ", QueryKeys)})");
                    break;
            }
        }

        if (!Uri.TryCreate(server, UriKind.Absolute, out var parsed) || parsed.Host.Length == 0)
        {
            problems.Insert(0, "is not a valid nats:// or tls:// URI with a host");
        }

        var jetStreamSettings = jetStream.Build(problems);
        var securitySettings = parsed is not null && parsed.Host.Length > 0
            ? NatsSecuritySettings.Parse(parsed, security, showValues: !hasCredentialKey, problems, checkFiles)
            : NatsSecuritySettings.None;
        if (problems.Count > 0)
        {
            return false;
        }

        settings = new NatsUriSettings(server.TrimEnd('/'), cluster, monitor, parsed!.Host, interval, namespaces, connectTimeout) { Security = securitySettings, JetStream = jetStreamSettings, Leases = leases };
        return true;
    }
}
