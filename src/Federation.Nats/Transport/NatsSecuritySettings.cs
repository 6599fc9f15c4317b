using System.Text;

namespace Federation.Nats.Transport;

/// <summary>
/// How a NATS URI secures its connection: TLS (the <c>tls://</c> scheme and the keys <c>cacertfile</c>, <c>certfile</c>,
/// <c>keyfile</c>, <c>verify</c>, spelt as the AMQP transport and rabbitmqctl spell them) and how it logs in (the
/// user-info <c>user:password@</c> or <c>token@</c>, or the keys <c>nkey-seed-file</c> and <c>creds-file</c>).
/// </summary>
/// <remarks>
/// <para>A TLS key on a <c>nats://</c> URI makes TLS required, as <c>tls://</c> does: NATS upgrades to TLS on the same
/// port after the server's INFO, so unlike AMQP there is no plain port the key could be a mistake for, and the key
/// promises a protection that must not silently fall back to plain text. This is what the official clients do with
/// a CA or a client certificate.</para>
/// <para>A connection logs in one way: user-info, <c>nkey-seed-file</c> and <c>creds-file</c> exclude each other.</para>
/// <para>The user name, password and token are secrets: <see cref="ToString"/> leaves them out. The file paths are shown
/// nowhere either, as the redacted URI masks them (<see cref="Federation.Core.Transport.UriRedaction"/>) and the AMQP
/// transport never names them: problems and failures name the key (see <see cref="Files"/>).</para>
/// </remarks>
internal sealed record NatsSecuritySettings
{
    /// <summary>
    /// The connect failure for a URI that was valid, files included, when the configuration loaded, and whose only problem
    /// now is a file it names (deleted, unreadable or rewritten since): retried as any failed connect, naming the key.
    /// The reason comes before the URI, since a URI with file keys is masked from the first of them to the end of the text.
    /// </summary>
    internal static Core.Transport.BrokerUnreachableException FileGoneAtConnect(IEnumerable<string> problems, string uri) => new(
        $"Could not connect to the NATS server: a file the URI names was usable when the configuration loaded but cannot be used now: the URI {string.Join("; ", problems)}. URI: {Core.Transport.UriRedaction.Redact(uri)}");

    /// <summary>Query key: PEM file of the CA certificates that sign the server's certificate; they replace the system store.</summary>
    public const string CaCertFileKey = "cacertfile";

    /// <summary>Query key: PEM file of the client certificate (and its key, when <c>keyfile</c> is not given).</summary>
    public const string CertFileKey = "certfile";

    /// <summary>Query key: PEM file of the client certificate's private key.</summary>
    public const string KeyFileKey = "keyfile";

    /// <summary>Query key: <c>verify_peer</c> (default) or <c>verify_none</c>.</summary>
    public const string VerifyKey = "verify";

    /// <summary>Query key: a file holding a user nkey seed (<c>SU...</c>), to log in as an nkey user.</summary>
    public const string NKeySeedFileKey = "nkey-seed-file";

    /// <summary>Query key: a creds file (user JWT and nkey seed, as <c>nsc</c> writes it), to log in with a JWT.</summary>
    public const string CredsFileKey = "creds-file";

    /// <summary>The value of <c>verify</c> that checks the server's certificate (the default).</summary>
    public const string VerifyPeer = "verify_peer";

    /// <summary>The value of <c>verify</c> that accepts any server certificate (encryption without authentication).</summary>
    public const string VerifyNone = "verify_none";

    /// <summary>Every query key of this record, in one place.</summary>
    public static readonly IReadOnlyList<string> QueryKeys = [CaCertFileKey, CertFileKey, KeyFileKey, VerifyKey, NKeySeedFileKey, CredsFileKey];

    /// <summary>A plain connection without credentials.</summary>
    public static readonly NatsSecuritySettings None = new();

    /// <summary>Whether the URI's scheme is <c>tls://</c>.</summary>
    public bool TlsScheme { get; init; }

    /// <summary><c>cacertfile</c>, or null to trust the system store.</summary>
    public string? CaCertFile { get; init; }

    /// <summary><c>certfile</c>, or null to send no client certificate.</summary>
    public string? CertFile { get; init; }

    /// <summary><c>keyfile</c>, or null when <see cref="CertFile"/> holds the key.</summary>
    public string? KeyFile { get; init; }

    /// <summary>False for <c>verify=verify_none</c>: any server certificate is accepted.</summary>
    public bool VerifyServerCertificate { get; init; } = true;

    /// <summary>Whether <c>verify</c> was given at all.</summary>
    public bool VerifyGiven { get; init; }

    /// <summary><c>nkey-seed-file</c>, or null.</summary>
    public string? NKeySeedFile { get; init; }

    /// <summary><c>creds-file</c>, or null.</summary>
    public string? CredsFile { get; init; }

    /// <summary>The user name of <c>user:password@</c>, or null. A secret's neighbour: not printed.</summary>
    public string? User { get; init; }

    /// <summary>The password of <c>user:password@</c>, or null. A secret.</summary>
    public string? Password { get; init; }

    /// <summary>The token of <c>token@</c>, or null. A secret.</summary>
    public string? Token { get; init; }

    /// <summary>Whether any TLS key is given.</summary>
    public bool HasTlsKeys => CaCertFile is not null || CertFile is not null || KeyFile is not null || VerifyGiven;

    /// <summary>Whether the connection must be TLS: <c>tls://</c> or any TLS key.</summary>
    public bool RequiresTls => TlsScheme || HasTlsKeys;

    /// <summary>Whether the URI says how to log in.</summary>
    public bool HasCredentials => User is not null || Token is not null || NKeySeedFile is not null || CredsFile is not null;

    /// <summary>
    /// Reads the security settings of a URI. Problems name the key, never its file path (the redacted URI masks it, and a
    /// path can tell where keys are kept), a credential or what a file holds.
    /// </summary>
    /// <param name="server">The URI up to its query.</param>
    /// <param name="query">The values of <see cref="QueryKeys"/> the query gives.</param>
    /// <param name="problems">Receives one sentence per problem.</param>
    /// <param name="showValues">False when a value may be a piece of a secret (it follows a credential query key), so the
    /// value of <c>verify</c> (the only value a problem quotes) is not quoted either.</param>
    /// <param name="checkFiles">False to leave the files unread: only the URI's own shape is checked.</param>
    public static NatsSecuritySettings Parse(Uri server, IReadOnlyDictionary<string, string> query, bool showValues, List<string> problems, bool checkFiles = true)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(problems);
        string? user = null;
        string? password = null;
        string? token = null;
        if (server.UserInfo.Length > 0)
        {
            // user:password@ logs in with both; a user-info without ':' is a token (the NATS clients' convention).
            var colon = server.UserInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                token = Uri.UnescapeDataString(server.UserInfo);
            }
            else
            {
                user = Uri.UnescapeDataString(server.UserInfo[..colon]);
                password = Uri.UnescapeDataString(server.UserInfo[(colon + 1)..]);
            }
        }

        string? Value(string key) => query.TryGetValue(key, out var value) ? value : null;

        foreach (var key in QueryKeys.Where(k => query.TryGetValue(k, out var v) && v.Length == 0))
        {
            problems.Add($"has an empty '{key}'; leave it out or give a file path");
        }

        var verify = Value(VerifyKey);
        if (verify is { Length: > 0 } && !string.Equals(verify, VerifyPeer, StringComparison.OrdinalIgnoreCase) && !string.Equals(verify, VerifyNone, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"has {(showValues ? $"'{VerifyKey}={verify}'" : $"'{VerifyKey}'")}: it must be one of {VerifyPeer}, {VerifyNone}");
        }

        var caCertFile = NonEmpty(Value(CaCertFileKey));
        var certFile = NonEmpty(Value(CertFileKey));
        var keyFile = NonEmpty(Value(KeyFileKey));
        var seedFile = NonEmpty(Value(NKeySeedFileKey));
        var credsFile = NonEmpty(Value(CredsFileKey));
        if (checkFiles && caCertFile is not null && NatsSecurityFiles.CaCertificateProblem(caCertFile) is { } caProblem)
        {
            problems.Add($"has '{CaCertFileKey}': {caProblem}");
        }

        if (keyFile is not null && certFile is null)
        {
            problems.Add($"has '{KeyFileKey}' without '{CertFileKey}': the key belongs to a client certificate");
        }
        else if (checkFiles && certFile is not null && NatsSecurityFiles.ReadableProblem(certFile) is { } certFileProblem)
        {
            // Each file on its own first, so that the one that is missing or unreadable is named.
            problems.Add($"has '{CertFileKey}': {certFileProblem}");
        }
        else if (checkFiles && keyFile is not null && NatsSecurityFiles.ReadableProblem(keyFile) is { } keyFileProblem)
        {
            problems.Add($"has '{KeyFileKey}': {keyFileProblem}");
        }
        else if (checkFiles && certFile is not null && NatsSecurityFiles.ClientCertificateProblem(certFile, keyFile) is { } certProblem)
        {
            problems.Add(keyFile is null ? $"has '{CertFileKey}': {certProblem}" : $"has '{CertFileKey}' and '{KeyFileKey}': {certProblem}");
        }

        if (checkFiles && seedFile is not null && NatsSecurityFiles.NKeySeedProblem(seedFile) is { } seedProblem)
        {
            problems.Add($"has '{NKeySeedFileKey}': {seedProblem}");
        }

        if (checkFiles && credsFile is not null && NatsSecurityFiles.CredsProblem(credsFile) is { } credsProblem)
        {
            problems.Add($"has '{CredsFileKey}': {credsProblem}");
        }

        var logins = new List<string>();
        if (user is not null || token is not null)
        {
            logins.Add(user is not null ? "a user and password in the user-info" : "a token in the user-info");
        }

        if (seedFile is not null)
        {
            logins.Add($"'{NKeySeedFileKey}'");
        }

        if (credsFile is not null)
        {
            logins.Add($"'{CredsFileKey}'");
        }

        if (logins.Count > 1)
        {
            problems.Add($"has {string.Join(" and ", logins)}: a NATS connection logs in one way, so give only one");
        }

        return new NatsSecuritySettings
        {
            TlsScheme = string.Equals(server.Scheme, "tls", StringComparison.OrdinalIgnoreCase),
            CaCertFile = caCertFile,
            CertFile = certFile,
            KeyFile = keyFile,
            VerifyServerCertificate = !string.Equals(verify, VerifyNone, StringComparison.OrdinalIgnoreCase),
            VerifyGiven = verify is { Length: > 0 },
            NKeySeedFile = seedFile,
            CredsFile = credsFile,
            User = user,
            Password = password,
            Token = token,
        };
    }

    /// <summary>The file paths the URI names, each with its query key.</summary>
    public IEnumerable<(string Key, string Path)> Files
    {
        get
        {
            (string Key, string? Path)[] files = [(CaCertFileKey, CaCertFile), (CertFileKey, CertFile), (KeyFileKey, KeyFile), (NKeySeedFileKey, NKeySeedFile), (CredsFileKey, CredsFile)];
            return files.Where(static f => f.Path is not null).Select(static f => (f.Key, f.Path!));
        }
    }

    /// <summary>The query key whose file <paramref name="error"/> (or one of its inner exceptions) names, or null.</summary>
    public string? KeyOfFileIn(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        for (var cause = error; cause is not null; cause = cause.InnerException)
        {
            var named = (cause as FileNotFoundException)?.FileName;
            foreach (var (key, path) in Files)
            {
                if (string.Equals(named, path, StringComparison.Ordinal) || cause.Message.Contains(path, StringComparison.Ordinal))
                {
                    return key;
                }
            }
        }

        return null;
    }

    // Only what is not secret: a record would otherwise print the password and the token, and the file paths.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("TlsScheme = ").Append(TlsScheme)
            .Append(", Files = ").Append(string.Join(' ', Files.Select(static f => f.Key)))
            .Append(", VerifyServerCertificate = ").Append(VerifyServerCertificate)
            .Append(", Login = ").Append(User is not null ? "user and password" : Token is not null ? "token" : NKeySeedFile is not null ? "nkey" : CredsFile is not null ? "creds" : "none");
        return true;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
