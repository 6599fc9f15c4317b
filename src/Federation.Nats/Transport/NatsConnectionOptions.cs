using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Turns what a NATS URI says about the server, TLS and logging in into the official client's <see cref="NatsOpts"/>.
/// </summary>
/// <remarks>
/// <para>The URI wins where it says something; where it is silent, the base options stay, so that a <see cref="NatsOpts"/>
/// configure callback can supply TLS or credentials the URI does not carry.</para>
/// <list type="bullet">
/// <item><see cref="NatsOpts.Url"/> is <c>scheme://host:port</c>, without user-info and query: credentials go only into
/// <see cref="NatsOpts.AuthOpts"/>, never into a URL the client may log.</item>
/// <item>TLS: <c>tls://</c> or any TLS key sets <see cref="TlsMode.Require"/> (never a silent fall-back to plain text);
/// a plain <c>nats://</c> URI keeps the base mode (the client's <see cref="TlsMode.Auto"/>: TLS when the server offers
/// it). <c>cacertfile</c> → <see cref="NatsTlsOpts.CaFile"/>; <c>certfile</c>/<c>keyfile</c> →
/// <see cref="NatsTlsOpts.CertFile"/>/<see cref="NatsTlsOpts.KeyFile"/> (the key file defaults to the certificate file,
/// as for AMQP); <c>verify=verify_none</c> → <see cref="NatsTlsOpts.InsecureSkipVerify"/>.</item>
/// <item>Login: when the URI carries credentials they replace the base <see cref="NatsAuthOpts"/> whole (one way of
/// logging in, never a mix): <c>user:password@</c> → user name and password, <c>token@</c> → token,
/// <c>nkey-seed-file</c> → seed and its public key (read from the file now), <c>creds-file</c> →
/// <see cref="NatsAuthOpts.CredsFile"/> (the client reads it when it connects).</item>
/// </list>
/// </remarks>
internal static class NatsConnectionOptions
{
    /// <summary>
    /// <paramref name="baseOptions"/> with the URL, TLS and login of <paramref name="settings"/>. Reads the
    /// <c>nkey-seed-file</c> (the only file read here; the others are read by the client when it connects).
    /// </summary>
    /// <exception cref="IOException">The <c>nkey-seed-file</c> cannot be read now (it was readable when the URI was validated).</exception>
    /// <exception cref="UnauthorizedAccessException">The <c>nkey-seed-file</c> may not be read now.</exception>
    /// <exception cref="InvalidDataException">The <c>nkey-seed-file</c> holds no valid user seed now.</exception>
    /// <remarks>
    /// Catch these with <see cref="NatsSecurityFiles.IsFileProblem"/> and describe them with
    /// <see cref="NatsSecurityFiles.Describe"/>: the text names no secret.
    /// </remarks>
    public static NatsOpts Apply(NatsUriSettings settings, NatsOpts baseOptions)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Apply(settings.ServerUrl, settings.Security, baseOptions);
    }

    /// <summary>
    /// <paramref name="baseOptions"/> with the URL <paramref name="serverUrl"/> (a URI without query; its user-info is
    /// removed) and the TLS and login of <paramref name="security"/>: the same mapping for any NATS URI parser, such as
    /// the subject transport's.
    /// </summary>
    /// <exception cref="IOException">The <c>nkey-seed-file</c> cannot be read now.</exception>
    /// <exception cref="UnauthorizedAccessException">The <c>nkey-seed-file</c> may not be read now.</exception>
    /// <exception cref="InvalidDataException">The <c>nkey-seed-file</c> holds no valid user seed now.</exception>
    public static NatsOpts Apply(string serverUrl, NatsSecuritySettings security, NatsOpts baseOptions)
    {
        ArgumentNullException.ThrowIfNull(serverUrl);
        ArgumentNullException.ThrowIfNull(security);
        ArgumentNullException.ThrowIfNull(baseOptions);
        return baseOptions with
        {
            Url = WithoutUserInfo(serverUrl),
            TlsOpts = Tls(security, baseOptions.TlsOpts ?? NatsTlsOpts.Default),
            AuthOpts = security.HasCredentials ? Auth(security) : baseOptions.AuthOpts,
        };
    }

    /// <summary><paramref name="serverUrl"/> (a URI without query) without its user-info.</summary>
    internal static string WithoutUserInfo(string serverUrl)
    {
        var scheme = serverUrl.IndexOf("://", StringComparison.Ordinal);
        var at = serverUrl.LastIndexOf('@');
        return scheme < 0 || at < scheme ? serverUrl : string.Concat(serverUrl.AsSpan(0, scheme + 3), serverUrl.AsSpan(at + 1));
    }

    private static NatsTlsOpts Tls(NatsSecuritySettings security, NatsTlsOpts tls)
    {
        if (security.RequiresTls)
        {
            tls = tls with { Mode = TlsMode.Require };
        }

        if (security.CaCertFile is { } caCertFile)
        {
            tls = tls with { CaFile = caCertFile };
        }

        if (security.CertFile is { } certFile)
        {
            // The client reads both as PEM text and finds the key by its label, so one combined file serves as both.
            tls = tls with { CertFile = certFile, KeyFile = security.KeyFile ?? certFile };
        }

        if (security.VerifyGiven)
        {
            tls = tls with { InsecureSkipVerify = !security.VerifyServerCertificate };
        }

        return tls;
    }

    private static NatsAuthOpts Auth(NatsSecuritySettings security)
    {
        if (security.NKeySeedFile is { } seedFile)
        {
            var seed = NatsSecurityFiles.ReadNKeySeed(seedFile);
            return new NatsAuthOpts { Seed = seed, NKey = NatsSecurityFiles.PublicKeyOf(seed) };
        }

        if (security.CredsFile is { } credsFile)
        {
            return new NatsAuthOpts { CredsFile = credsFile };
        }

        return security.Token is { } token
            ? new NatsAuthOpts { Token = token }
            : new NatsAuthOpts { Username = security.User, Password = security.Password };
    }
}
