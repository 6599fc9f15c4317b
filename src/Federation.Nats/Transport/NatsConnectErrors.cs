using Federation.Core.Transport;

namespace Federation.Nats.Transport;

/// <summary>
/// The transport exception for a failed NATS connect attempt, carrying the client's reason (so that link status and
/// health say why, not only the exception type) and never a credential.
/// </summary>
internal static class NatsConnectErrors
{
    // Fragments of the user part shorter than this are not scrubbed: they would garble the message and reveal nothing.
    private const int MinimumScrubbedLength = 3;

    /// <summary>
    /// A <see cref="BrokerUnreachableException"/> naming <paramref name="displayUri"/> and the reason of <paramref name="error"/>,
    /// or <paramref name="unresolved"/> (a host that does not resolve, <see cref="NatsHostResolution"/>) when there is one.
    /// </summary>
    public static BrokerUnreachableException Unreachable(string rawUri, string displayUri, Exception error, string? unresolved = null) =>
        new($"Could not connect to NATS server: {(unresolved is null ? Reason(rawUri, error) : Scrub(rawUri, unresolved))}. URI: {displayUri}", SafeInner(rawUri, error)); // the URI last: RedactText masks the rest of a line after a file key

    /// <summary>
    /// The transport exception for a failed connect: refused credentials are an <see cref="AuthenticationFailedException"/>,
    /// anything else (refused, timed out, TLS) a <see cref="BrokerUnreachableException"/> that names the innermost cause.
    /// </summary>
    /// <param name="rawUri">The URI as configured (only ever shown redacted).</param>
    /// <param name="displayUri">The redacted URI.</param>
    /// <param name="error">What the client threw.</param>
    /// <param name="unresolved">Why the host does not resolve, when it does not (<see cref="NatsHostResolution"/>).</param>
    public static TransportException Translate(string rawUri, string displayUri, Exception error, string? unresolved = null)
    {
        for (var cause = error; cause is not null; cause = cause.InnerException)
        {
            if (cause is NATS.Client.Core.NatsServerException { IsAuthError: true } || cause.Message.Contains("Authorization Violation", StringComparison.OrdinalIgnoreCase))
            {
                return new AuthenticationFailedException($"NATS server {displayUri} refused the credentials.", SafeInner(rawUri, error));
            }
        }

        return Unreachable(rawUri, displayUri, Innermost(error), unresolved);
    }

    // The client wraps the cause ("can not start to connect nats server: ..."): the innermost message says what happened.
    private static Exception Innermost(Exception error)
    {
        var cause = error;
        while (cause.InnerException is not null && cause is not TimeoutException)
        {
            cause = cause.InnerException;
        }

        return cause;
    }

    /// <summary>
    /// The client's message. It names servers by host:port only, but a URI whose user part holds an unencoded '/' can
    /// make a piece of a secret parse as the host: every piece of the raw user part is removed from the text to be sure.
    /// </summary>
    private static string Reason(string rawUri, Exception error) =>
        Scrub(rawUri, string.IsNullOrWhiteSpace(error.Message) ? error.GetType().Name : error.Message.TrimEnd('.'));

    /// <summary>
    /// <paramref name="error"/> when nothing in it (loggers print inner exceptions in full) holds a piece of the user part
    /// of <paramref name="rawUri"/> or a URI's user information, else null.
    /// </summary>
    internal static Exception? SafeInner(string rawUri, Exception error)
    {
        var text = error.ToString();
        return string.Equals(UriRedaction.RedactText(Scrub(rawUri, text)), text, StringComparison.Ordinal) ? error : null;
    }

    private static string Scrub(string rawUri, string reason)
    {
        var schemeEnd = rawUri.IndexOf("://", StringComparison.Ordinal);
        var at = rawUri.LastIndexOf('@');
        if (schemeEnd < 0 || at <= schemeEnd + 3)
        {
            return reason;
        }

        foreach (var piece in rawUri[(schemeEnd + 3)..at].Split([':', '/', '?', '#', '@', '&', '='], StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var form in new[] { piece, Uri.UnescapeDataString(piece) })
            {
                if (form.Length >= MinimumScrubbedLength)
                {
                    reason = reason.Replace(form, "<redacted>", StringComparison.OrdinalIgnoreCase);
                }
            }
        }

        return reason;
    }
}
