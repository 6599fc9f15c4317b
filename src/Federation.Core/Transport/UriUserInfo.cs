namespace Federation.Core.Transport;

/// <summary>
/// Checks that the user information of a broker URI reads only one way. RFC 3986 ends the authority at the first
/// <c>/</c>, <c>?</c> or <c>#</c>, so <c>nats://TOK/EN@host:4222</c> is the host <c>TOK</c> with a path: a client would
/// send part of the token to DNS. Transports refuse such URIs instead of guessing.
/// </summary>
public static class UriUserInfo
{
    /// <summary>
    /// Returns why the user information of <paramref name="uri"/> is ambiguous, or <see langword="null"/> when it is not
    /// (or when there is none). The reason contains nothing of the URI; it is phrased to follow the redacted URI:
    /// <c>$"'{UriRedaction.Redact(uri)}' {reason}"</c>.
    /// </summary>
    /// <remarks>
    /// Ambiguous are: more than one unencoded <c>@</c> after <c>scheme://</c> (in the user information, host, path or
    /// query), and user information that contains <c>/</c>, <c>?</c>, <c>#</c>, <c>[</c>, <c>]</c> or a <c>%</c> that
    /// does not start an escape. A <c>:</c> in the password is fine: the user name ends at the first one.
    /// </remarks>
    public static string? FindAmbiguity(string uri)
    {
        if (string.IsNullOrEmpty(uri))
        {
            return null;
        }

        // Without a valid scheme in front, "://" may be part of a credential: then the whole text counts.
        var separator = uri.IndexOf("://", StringComparison.Ordinal);
        var rest = separator > 0 && IsScheme(uri.AsSpan(0, separator)) ? uri.AsSpan(separator + 3) : uri.AsSpan();
        var at = rest.IndexOf('@');
        if (at < 0)
        {
            return null;
        }

        if (rest[(at + 1)..].Contains('@') || rest[..at].ContainsAny("/?#[]") || HasStrayPercent(rest[..at]))
        {
            return "is ambiguous: the user name or password contains an unencoded '/', '?', '#', '@', '[', ']' or '%' " +
                "(or an '@' follows the host), so the host cannot be told from the credentials. " +
                "Percent-encode the user name and the password (for example '/' as %2F, '@' as %40, '%' as %25).";
        }

        return null;
    }

    private static bool IsScheme(ReadOnlySpan<char> scheme)
    {
        foreach (var c in scheme)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
            {
                return false;
            }
        }

        return char.IsAsciiLetter(scheme[0]);
    }

    private static bool HasStrayPercent(ReadOnlySpan<char> userInfo)
    {
        for (var i = userInfo.IndexOf('%'); i >= 0; i = userInfo.IndexOf('%'))
        {
            if (i + 2 >= userInfo.Length || !char.IsAsciiHexDigit(userInfo[i + 1]) || !char.IsAsciiHexDigit(userInfo[i + 2]))
            {
                return true;
            }

            userInfo = userInfo[(i + 3)..];
        }

        return false;
    }
}
