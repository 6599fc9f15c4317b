using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Text of the official client and of the server (a NatsException's message, a server -ERR) made fit for our exceptions,
/// link status and logs: the user name, password and token the URI gave the connection (in its
/// <see cref="NatsOpts.AuthOpts"/>, or in the user information of <see cref="NatsOpts.Url"/>) and the user information of
/// any URI are removed, as <see cref="CredentialRedaction"/> does for AMQP. The client redacts the URLs it prints, but the
/// server's texts and the client's other texts promise nothing.
/// </summary>
internal static class NatsErrorText
{
    /// <summary><paramref name="text"/> without the user name, password or token of the connection with <paramref name="opts"/>.</summary>
    public static string Scrub(string? text, NatsOpts? opts)
    {
        if (opts is null)
        {
            return CredentialRedaction.Redact(text, null, null);
        }

        var auth = opts.AuthOpts;
        var scrubbed = CredentialRedaction.Redact(CredentialRedaction.Redact(text, auth.Username, auth.Password), auth.Token, null);
        var (user, password) = UserInfo(opts.Url);
        return user is null ? scrubbed : CredentialRedaction.Redact(scrubbed, user, password);
    }

    /// <summary>
    /// <paramref name="text"/> without the user name, password or token of the URI's <paramref name="security"/> settings,
    /// nor the paths of its files (the redacted URI masks them, so no text shows them beside it).
    /// </summary>
    public static string Scrub(string? text, NatsSecuritySettings security)
    {
        var scrubbed = CredentialRedaction.Redact(CredentialRedaction.Redact(text, security.User, security.Password), security.Token, null);
        foreach (var (_, path) in security.Files)
        {
            scrubbed = CredentialRedaction.Redact(scrubbed, path, null);
        }

        return scrubbed;
    }

    /// <summary><paramref name="error"/> when nothing in it names a credential or a file path of <paramref name="security"/>, else null.</summary>
    public static Exception? SafeInner(Exception error, NatsSecuritySettings security)
    {
        var text = error.ToString();
        return string.Equals(Scrub(text, security), text, StringComparison.Ordinal) ? error : null;
    }

    /// <summary>The message of <paramref name="error"/>, scrubbed.</summary>
    public static string Message(Exception error, NatsOpts? opts) => Scrub(error.Message, opts);

    /// <summary>
    /// <paramref name="error"/> when nothing in it (message, inner exceptions, stack) names a credential of the
    /// connection, else null: to keep as the inner exception of ours, which loggers print in full and which cannot be
    /// scrubbed in place.
    /// </summary>
    public static Exception? SafeInner(Exception? error, NatsOpts? opts)
    {
        if (error is null)
        {
            return null;
        }

        var text = error.ToString();
        return string.Equals(Scrub(text, opts), text, StringComparison.Ordinal) ? error : null;
    }

    // The user information of a URL given to the client as it is (user:password, or a token as the user), decoded.
    private static (string? User, string? Password) UserInfo(string? url)
    {
        if (string.IsNullOrEmpty(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.UserInfo.Length == 0)
        {
            return (null, null);
        }

        var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
        return colon < 0
            ? (Uri.UnescapeDataString(uri.UserInfo), null)
            : (Uri.UnescapeDataString(uri.UserInfo[..colon]), Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]));
    }
}
