using System.Globalization;
using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.Messaging;

/// <summary>
/// The settings of a subject-transport URI: <c>nats://[user:pass@]host[:port][?key=value&amp;...]</c> (or <c>tls://</c>). The query is
/// removed before connecting; unknown keys and bad values are rejected naming the key, so a typo never goes unnoticed.
/// </summary>
/// <param name="ServerUrl">The server URL without the query (it may carry credentials: never log it).</param>
/// <param name="Tls">Whether the scheme is <c>tls</c>.</param>
/// <param name="MaxReconnectAttempts">Reconnect attempts before the connection closes for good; -1 retries forever.</param>
/// <param name="ReconnectWait">First wait between reconnect attempts (it doubles up to the client's maximum).</param>
/// <param name="ConnectTimeout">Time allowed for one connect attempt.</param>
internal sealed record NatsSubjectUriSettings(string ServerUrl, bool Tls, int MaxReconnectAttempts, TimeSpan ReconnectWait, TimeSpan ConnectTimeout)
{
    /// <summary>TLS and login: the scheme, the user-info and the keys of <see cref="NatsSecuritySettings.QueryKeys"/> (as for exchange links).</summary>
    public NatsSecuritySettings Security { get; init; } = NatsSecuritySettings.None;

    /// <summary>Query key: reconnect attempts before giving up (default -1, forever).</summary>
    public const string MaxReconnectAttemptsKey = "max-reconnect-attempts";

    /// <summary>Query key: first reconnect wait in milliseconds (default 2000).</summary>
    public const string ReconnectWaitKey = "reconnect-wait-ms";

    /// <summary>Query key: connect timeout in milliseconds (default 5000).</summary>
    public const string ConnectTimeoutKey = "connect-timeout-ms";

    public static NatsSubjectUriSettings Parse(string uri) => Parse(uri, toConnect: false);

    /// <summary>
    /// The settings to connect with. The URI was validated when it was configured, files included; a file that cannot
    /// be used now (deleted, unreadable or rewritten since) fails this connect attempt naming its key, as a connect
    /// failure that is retried, not as an invalid URI.
    /// </summary>
    /// <exception cref="ArgumentException">The URI itself is invalid, as for <see cref="Parse(string)"/>.</exception>
    /// <exception cref="Core.Transport.BrokerUnreachableException">Only a file the URI names is the problem.</exception>
    public static NatsSubjectUriSettings ParseToConnect(string uri) => Parse(uri, toConnect: true);

    private static NatsSubjectUriSettings Parse(string uri, bool toConnect)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            throw new ArgumentException($"'{UriRedaction.Redact(uri)}' {ambiguity}", nameof(uri));
        }

        var query = uri.IndexOf('?', StringComparison.Ordinal);
        var server = (query < 0 ? uri : uri[..query]).TrimEnd('/');
        if (!Uri.TryCreate(server, UriKind.Absolute, out var parsed) || parsed.Host.Length == 0 || parsed.Scheme is not ("nats" or "tls"))
        {
            throw new ArgumentException($"'{UriRedaction.Redact(uri)}' is not a valid nats:// or tls:// URI.", nameof(uri));
        }

        var settings = new NatsSubjectUriSettings(server, parsed.Scheme == "tls", -1, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));
        var security = new Dictionary<string, string>(StringComparer.Ordinal);
        if (query >= 0)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var part in uri[(query + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                var key = eq < 0 ? part : part[..eq];
                var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(part[(eq + 1)..]);
                if (!seen.Add(key))
                {
                    // A silent "last wins" hides the typo or the copy-paste.
                    var display = UriRedaction.Redact(uri);
                    throw new ArgumentException($"'{display}' has {(UriRedaction.ShowsQueryKey(display, key) ? $"the query key '{key}'" : "a query key after a masked one")} more than once.", nameof(uri));
                }
                if (NatsSecuritySettings.QueryKeys.Contains(key, StringComparer.Ordinal))
                {
                    security[key] = value;
                    continue;
                }

                settings = key switch
                {
                    MaxReconnectAttemptsKey => settings with { MaxReconnectAttempts = ParseInt(key, value, min: -1) },
                    ReconnectWaitKey => settings with { ReconnectWait = TimeSpan.FromMilliseconds(ParseInt(key, value, min: 1)) },
                    ConnectTimeoutKey => settings with { ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, min: 1)) },
                    _ => throw UnknownKey(key, uri),
                };
            }
        }

        var problems = new List<string>();
        var parsedSecurity = NatsSecuritySettings.Parse(parsed, security, showValues: true, problems);
        if (problems.Count > 0 && toConnect)
        {
            var shapeProblems = new List<string>();
            _ = NatsSecuritySettings.Parse(parsed, security, showValues: true, shapeProblems, checkFiles: false);
            if (shapeProblems.Count == 0)
            {
                throw NatsSecuritySettings.FileGoneAtConnect(problems, uri);
            }
        }

        return problems.Count > 0
            ? throw new ArgumentException($"'{UriRedaction.Redact(uri)}' {string.Join("; ", problems)}.", nameof(uri))
            : settings with { Security = parsedSecurity };
    }

    // After an unencoded secret ("token=a&b"), a "key" may be a piece of the secret: name only what the redacted URI shows.
    private static ArgumentException UnknownKey(string key, string uri)
    {
        var display = UriRedaction.Redact(uri);
        return new ArgumentException(
            $"Unknown query parameter {(display.Contains(key, StringComparison.Ordinal) ? $"'{key}'" : "(after a masked one)")} in '{display}'; " +
            $"the NATS subject transport accepts {MaxReconnectAttemptsKey}, {ReconnectWaitKey}, {ConnectTimeoutKey}, {string.Join(", ", NatsSecuritySettings.QueryKeys)}.",
            nameof(uri));
    }

    private static int ParseInt(string key, string value, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= min
            ? number
            : throw new ArgumentException($"Query parameter '{key}' must be an integer of at least {min}, not '{value}'.", nameof(value));
}
