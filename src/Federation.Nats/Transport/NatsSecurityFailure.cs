using System.Security.Authentication;
using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Says why the official client failed to connect when the cause is TLS or logging in, in words that name the URI key
/// to fix. The client reports such failures as <c>"can not start to connect nats server: &lt;url&gt;"</c> with the cause
/// several inner exceptions deep; a link status needs the cause itself. No text here holds a secret: the client's URL
/// has no user-info (<see cref="NatsConnectionOptions.Apply(NatsUriSettings, NATS.Client.Core.NatsOpts)"/> removes it), the server's login errors name no user, and
/// the TLS texts are the platform's.
/// </summary>
internal static class NatsSecurityFailure
{
    /// <summary>
    /// The transport exception for a connect attempt of the official client that failed because of TLS, the login or a
    /// file the URI names: <see cref="AuthenticationFailedException"/> when the server refused the login, otherwise
    /// <see cref="BrokerUnreachableException"/>, its message naming the cause and then <paramref name="displayUri"/>
    /// (redacted). Null when the cause is something else.
    /// </summary>
    /// <remarks>
    /// The URI comes last on purpose: the link status passes the message through <see cref="UriRedaction.RedactText"/>,
    /// which masks the rest of the line after a secret-looking query key, and every file key (<c>cacertfile</c>,
    /// <c>keyfile</c>, <c>nkey-seed-file</c>, <c>creds-file</c>, ...) looks secret to it.
    /// </remarks>
    /// <param name="error">What the client threw.</param>
    /// <param name="security">TLS and login from the URI.</param>
    /// <param name="displayUri">The redacted URI.</param>
    /// <param name="certificateRejection">Why the handshake refused the server's certificate (<see cref="NatsTlsDiagnosis.Rejection"/>), or null.</param>
    public static BrokerUnreachableException? ToTransportException(Exception error, NatsSecuritySettings security, string displayUri, string? certificateRejection = null)
    {
        ArgumentNullException.ThrowIfNull(displayUri);
        if (Describe(error, security, certificateRejection) is not { } cause)
        {
            return null;
        }

        // The cause is our own sentence around the platform's and the server's texts (the login text scrubbed); the inner
        // exception, which loggers print in full, is kept only when it names no credential and no file path.
        var message = $"Could not connect to the NATS server: {cause}. URI: {displayUri}";
        var inner = NatsErrorText.SafeInner(error, security);
        return IsLoginRefused(error) ? new AuthenticationFailedException(message, inner) : new BrokerUnreachableException(message, inner);
    }

    /// <summary>Whether the server refused the login (<c>-ERR 'Authorization Violation'</c> and its kin).</summary>
    public static bool IsLoginRefused(Exception error) => Chain(error).Any(e => e is NatsServerException { IsAuthError: true });

    /// <summary>
    /// Why <paramref name="error"/> happened, when the cause is the login or TLS, naming the key of
    /// <paramref name="security"/> to check; null when the cause is something else (the caller describes it as before).
    /// </summary>
    /// <param name="error">What the client threw.</param>
    /// <param name="security">TLS and login from the URI.</param>
    /// <param name="certificateRejection">
    /// Why the handshake refused the server's certificate (<see cref="NatsTlsDiagnosis.Rejection"/>): an untrusted or
    /// unknown CA, an expired or not yet valid certificate, a host name mismatch. Null describes a refusal from the
    /// platform's words alone, which are the same for every cause.
    /// </param>
    public static string? Describe(Exception error, NatsSecuritySettings security, string? certificateRejection = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(security);
        var chain = Chain(error).ToList();
        if (chain.OfType<NatsServerException>().FirstOrDefault(e => e.IsAuthError) is { } refused)
        {
            // The server's text: it names no user today, but nothing promises that it never echoes a credential.
            return $"the server refused the login ({NatsErrorText.Scrub(refused.Message.Replace("Server error: ", string.Empty, StringComparison.Ordinal), security)}): {LoginHint(security)}";
        }

        var handshake = chain.OfType<AuthenticationException>().FirstOrDefault();
        if (handshake is not null && certificateRejection is not null)
        {
            return $"the server's TLS certificate was not accepted: {certificateRejection}";
        }

        // A server with 'verify: true' ends the handshake with an alert when the client certificate is missing or untrusted
        // (our check of its certificate passed, or it would have said why above).
        if (chain.FirstOrDefault(e => e.Message.Contains("alert", StringComparison.OrdinalIgnoreCase) && e.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase)) is { } alert)
        {
            return security.CertFile is null
                ? $"the server requires a client certificate and none was sent ({AlertText(alert.Message)}): set '{NatsSecuritySettings.CertFileKey}' and '{NatsSecuritySettings.KeyFileKey}'"
                : $"the client certificate was refused by the server ({AlertText(alert.Message)}): {NatsClientCertificateRefusal.Describe(security.CertFile, AlertText(alert.Message), DateTimeOffset.UtcNow)}";
        }

        if (handshake is not null)
        {
            var hint = security.CaCertFile is not null
                ? $"it is not signed by a CA in '{NatsSecuritySettings.CaCertFileKey}', or not valid for the host"
                : $"set '{NatsSecuritySettings.CaCertFileKey}' to the CA that signed it (or '{NatsSecuritySettings.VerifyKey}={NatsSecuritySettings.VerifyNone}' to skip the check)";
            return $"the server's TLS certificate was not accepted ({handshake.Message.TrimEnd('.')}): {hint}";
        }

        // A file that was readable when the URI was validated and is not now (the client reads the TLS and creds files at connect).
        // Only these: a failed TLS handshake or a lost socket is an IOException too.
        if (chain.FirstOrDefault(e => e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException) is { } file)
        {
            // Named by its key: the client's text quotes the path, which the redacted URI masks.
            return security.KeyOfFileIn(file) is { } key
                ? $"the file of '{key}' cannot be used now: {NatsSecurityFiles.Describe(file)}"
                : $"a file the URI names cannot be used now: {NatsSecurityFiles.Describe(file)}";
        }

        if (chain.FirstOrDefault(e => e.Message.Contains("TlsMode", StringComparison.Ordinal)) is { } tlsMode)
        {
            return security.RequiresTls
                ? $"the server does not offer TLS, and this URI requires it (tls:// or a TLS key): {tlsMode.Message.TrimEnd('.')}"
                : tlsMode.Message.TrimEnd('.');
        }

        return null;
    }

    private static string LoginHint(NatsSecuritySettings security) =>
        security.User is not null ? "check the user and password in the user-info"
        : security.Token is not null ? "check the token in the user-info"
        : security.NKeySeedFile is not null ? $"the server does not know the nkey of the seed in '{NatsSecuritySettings.NKeySeedFileKey}'"
        : security.CredsFile is not null ? $"the server does not accept the user JWT in '{NatsSecuritySettings.CredsFileKey}' (unknown account, or expired or revoked)"
        : $"the URI has no credentials: add user:password@ or token@, '{NatsSecuritySettings.NKeySeedFileKey}' or '{NatsSecuritySettings.CredsFileKey}'";

    // "error:0A000412:SSL routines::sslv3 alert bad certificate" -> "sslv3 alert bad certificate"
    private static string AlertText(string message)
    {
        var colon = message.LastIndexOf("::", StringComparison.Ordinal);
        return (colon >= 0 ? message[(colon + 2)..] : message).Trim().TrimEnd('.');
    }

    private static IEnumerable<Exception> Chain(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain))
                {
                    yield return inner;
                }
            }
        }
    }
}
