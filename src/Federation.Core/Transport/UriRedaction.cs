using System.Text;

namespace Federation.Core.Transport;

/// <summary>Removes secrets from broker URIs so they can be logged, shown in status and written into <c>x-received-from</c>.</summary>
/// <remarks>
/// Operators write passwords and tokens into URIs without percent-encoding them, so a secret may contain <c>/ ? # @ :</c>
/// and anything else. The user information therefore ends at the <em>last</em> <c>@</c>, not at the first <c>/</c>,
/// <c>?</c> or <c>#</c> as RFC 3986 would have it; whenever the shape leaves a doubt, more is removed rather than less.
/// </remarks>
public static class UriRedaction
{
    private const string Redacted = "<redacted>";

    // Substrings of query keys whose values are masked: password=, pass=, token=, auth_token=, api-key=, jwt=, ...; and
    // user= (a user name put in the query by mistake, which transports refuse: user names are not shown either).
    private static readonly string[] SecretQueryKeys =
        ["password", "pass", "pwd", "token", "secret", "key", "keyfile", "certfile", "auth", "nkey", "jwt", "cred", "sig", "user"];

    // Keys whose values are file paths (TLS files, NATS nkey seed and creds files). A path is masked, but it is no secret
    // that could run on over '&': only the value itself is, so the keys after it (verify, cluster-name, ...) and the rest
    // of a message (the cause of an error) stay readable.
    private static readonly string[] FilePathQueryKeys = ["cacertfile", "certfile", "keyfile", "nkey-seed-file", "creds-file"];

    /// <summary>
    /// <paramref name="uri"/> as the federation plugin writes it into a hop of <c>x-received-from</c>: redacted
    /// (<see cref="Redact"/>), then without its query and fragment, so scheme, host, port and path only. The plugin drops
    /// the query there too; here it also keeps connection settings (a management port, TLS file keys, NATS options) from
    /// travelling with every forwarded message.
    /// </summary>
    internal static string ForTrail(string uri)
    {
        var redacted = Redact(uri);
        var end = redacted.AsSpan().IndexOfAny('?', '#');
        return end < 0 ? redacted : redacted[..end];
    }

    /// <summary>
    /// Returns <paramref name="uri"/> without user information and with secret-looking query parameters masked,
    /// as the federation plugin does for status entries: <c>amqp://user:pass@host:5672/vh</c> becomes <c>amqp://host:5672/vh</c>.
    /// Never throws.
    /// </summary>
    /// <remarks>
    /// Everything between <c>scheme://</c> and the last <c>@</c> is removed, whatever it contains. A host part that cannot
    /// be a host (<c>amqp://user:secret/x</c>) means the shape was misread: everything after the scheme is replaced by
    /// <c>&lt;redacted&gt;</c>, as it is when that <c>@</c> may belong to a secret query value. From the first
    /// secret-looking query or fragment parameter (<c>password=</c>, <c>token=</c>, ...) on, the rest is replaced by
    /// <c>&lt;redacted&gt;</c>, because an unencoded secret may contain <c>&amp;</c> or <c>#</c>. A file path parameter
    /// (<c>cacertfile=</c>, <c>certfile=</c>, <c>keyfile=</c>, <c>nkey-seed-file=</c>, <c>creds-file=</c>) has only its
    /// value replaced, up to the next <c>&amp;</c>, <c>#</c> or <c>;</c>. A value without
    /// <c>scheme://</c> that contains <c>@</c> is replaced whole. The result is stable: redacting it again changes nothing.
    /// </remarks>
    public static string Redact(string uri)
    {
        if (string.IsNullOrEmpty(uri))
        {
            return uri ?? string.Empty;
        }

        var separator = uri.IndexOf("://", StringComparison.Ordinal);
        if (separator < 0 || !IsScheme(uri.AsSpan(0, separator)))
        {
            // No scheme, so no telling where credentials would end: show nothing if there may be any.
            if (uri.Contains('@', StringComparison.Ordinal))
            {
                return Redacted;
            }

            var value = FindSecretValue(uri, 0, uri.Length);
            return value < 0 ? uri : string.Concat(uri.AsSpan(0, value), Redacted);
        }

        var builder = new StringBuilder(uri.Length);
        builder.Append(uri, 0, separator + 3);
        RedactAfterScheme(uri, separator + 3, freeText: false, builder);
        return builder.ToString();
    }

    /// <summary>
    /// Whether <paramref name="redactedUri"/> (an output of <see cref="Redact(string)"/>) still shows the query key
    /// <paramref name="key"/>. A parser names a query key in an error only then: after an unencoded secret
    /// (<c>password=a&amp;b</c>) what looks like a key may be a piece of the secret, and the redacted URI has masked it.
    /// </summary>
    public static bool ShowsQueryKey(string redactedUri, string key)
    {
        ArgumentNullException.ThrowIfNull(redactedUri);
        ArgumentNullException.ThrowIfNull(key);
        var query = redactedUri.IndexOf('?', StringComparison.Ordinal);
        return query >= 0 && key.Length > 0 && redactedUri[(query + 1)..].Split('&')
            .Any(part => part == key || part.StartsWith(key + "=", StringComparison.Ordinal));
    }

    /// <summary>
    /// Redacts every URI in a free text, such as an exception message from a client library that may echo the URI it was given:
    /// each <c>scheme://...</c> in <paramref name="text"/> is treated as <see cref="Redact(string)"/> treats a URI. Never throws.
    /// </summary>
    /// <remarks>
    /// In free text a URI ends at white space or a quote. When what precedes that cannot be a whole URI (its host part
    /// cannot be a host, or it is a bare name) and an <c>@</c> follows on the same line, everything up to the last such
    /// <c>@</c> is removed, as for a password with a space. A secret-looking query parameter masks the rest of the line.
    /// This is a safety net for text the engine does not write itself: user information with white space whose first
    /// part looks like <c>host:port</c> or <c>host/path</c>, and credentials without <c>scheme://</c>, are not recognised.
    /// Text the engine writes quotes URIs through <see cref="Redact(string)"/>, which has no such limits.
    /// </remarks>
    public static string RedactText(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }

        var next = text.IndexOf("://", StringComparison.Ordinal);
        if (next < 0)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        var copied = 0;
        while (next >= 0)
        {
            var afterScheme = next + 3;
            builder.Append(text, copied, afterScheme - copied);
            copied = RedactAfterScheme(text, afterScheme, freeText: true, builder);
            next = copied < text.Length ? text.IndexOf("://", copied, StringComparison.Ordinal) : -1;
        }

        builder.Append(text, copied, text.Length - copied);
        return builder.ToString();
    }

    /// <summary>
    /// Appends the redacted form of what follows <c>scheme://</c> at <paramref name="start"/> and returns where the URI
    /// (with anything removed after it) ended. In free text the URI is bounded by white space and quotes; otherwise it is
    /// the whole rest of the string.
    /// </summary>
    private static int RedactAfterScheme(string text, int start, bool freeText, StringBuilder output)
    {
        var lineEnd = freeText ? LineEnd(text, start) : text.Length;
        var tokenEnd = freeText ? TokenEnd(text, start, lineEnd) : text.Length;
        var at = text.AsSpan(start, tokenEnd - start).LastIndexOf('@');
        var hostStart = at < 0 ? start : start + at + 1;
        if (freeText && (EndsInsideUserInfo(text, hostStart, tokenEnd) || NextWordHasAt(text, tokenEnd, lineEnd)))
        {
            // "amqp://user:pass word@host": the token ended inside the user information. Remove up to the last '@' of the line.
            var lineAt = text.AsSpan(hostStart, lineEnd - hostStart).LastIndexOf('@');
            if (lineAt >= 0)
            {
                at = hostStart + lineAt - start;
                hostStart += lineAt + 1;
                tokenEnd = TokenEnd(text, hostStart, lineEnd);
            }
        }

        if (at >= 0 && FindSecretValue(text, start, start + at) >= 0)
        {
            // The '@' may sit inside an unencoded secret query value; what follows it could be the rest of the secret.
            output.Append(Redacted);
            return lineEnd;
        }

        var delimiter = text.AsSpan(hostStart, tokenEnd - hostStart).IndexOfAny('/', '?', '#');
        var hostEnd = delimiter < 0 ? tokenEnd : hostStart + delimiter;
        var host = text.AsSpan(hostStart, hostEnd - hostStart);
        if (!IsPlausibleHost(freeText ? host.TrimEnd(".,;:!)") : host))
        {
            // "amqp://user:secret/more": no '@' at all, so what looks like the host is the credential.
            output.Append(Redacted);
            return lineEnd;
        }

        output.Append(host);

        var from = hostEnd;
        while (true)
        {
            var value = FindSecretValue(text, from, tokenEnd, out var pathOnly);
            if (value < 0)
            {
                output.Append(text, from, tokenEnd - from);
                return tokenEnd;
            }

            output.Append(text, from, value - from).Append(Redacted);
            if (!pathOnly)
            {
                return lineEnd;
            }

            if (freeText && text.AsSpan(value).StartsWith(Redacted, StringComparison.Ordinal))
            {
                // A message that quotes a URI redacted before ("... URI: tls://host?cacertfile=<redacted>") is redacted
                // again on its way to the log, the status and /health. The token ended at the mask's '<', so without this
                // each pass added a mask in front of it ("<redacted><redacted><redacted>"). Keep the one mask and go on
                // with the URI after it.
                from = value + Redacted.Length;
                tokenEnd = TokenEnd(text, from, lineEnd);
                continue;
            }

            // A file path: masked up to the next parameter, and the scan goes on after it.
            from = value;
            while (from < tokenEnd && text[from] is not ('&' or '#' or ';'))
            {
                from++;
            }
        }
    }

    /// <summary>
    /// Whether a free-text token without '@' may have ended inside user information: its authority cannot be a host
    /// (<c>amqp://user:pass</c>), or it is a bare name that a later '@' on the line may continue (<c>amqp://us er@host</c>).
    /// A token with a port or a path (<c>amqp://host:5672/vh</c>) is taken as a complete URI, so that a later
    /// <c>rabbit@node</c> in the same message does not swallow the text in between.
    /// </summary>
    private static bool EndsInsideUserInfo(string text, int start, int end)
    {
        var token = text.AsSpan(start, end - start).TrimEnd(".,;:!)");
        var delimiter = token.IndexOfAny('/', '?', '#');
        var authority = delimiter < 0 ? token : token[..delimiter];
        return !IsPlausibleHost(authority) || (delimiter < 0 && !authority.Contains(':'));
    }

    /// <summary>Whether the word right after a token holds an '@' (<c>amqp://us/er pa@host</c>: one space inside the user information).</summary>
    private static bool NextWordHasAt(string text, int tokenEnd, int lineEnd)
    {
        if (tokenEnd >= lineEnd)
        {
            return false;
        }

        var next = tokenEnd + 1;
        return text.AsSpan(next, TokenEnd(text, next, lineEnd) - next).Contains('@');
    }

    /// <summary>
    /// Finds the first query or fragment parameter in <c>[from, to)</c> whose key looks secret (<c>?password=</c>,
    /// <c>&amp;token=</c>, <c>#jwt=</c>, ...) and returns where its value starts, or -1.
    /// </summary>
    private static int FindSecretValue(string text, int from, int to) => FindSecretValue(text, from, to, out _);

    /// <summary>As <see cref="FindSecretValue(string, int, int)"/>; <paramref name="pathOnly"/> says the key names a file path.</summary>
    private static int FindSecretValue(string text, int from, int to, out bool pathOnly)
    {
        pathOnly = false;
        for (var i = from; i < to; i++)
        {
            if (text[i] is not ('?' or '&' or '#' or ';'))
            {
                continue;
            }

            var keyStart = i + 1;
            var keyEnd = keyStart;
            while (keyEnd < to && text[keyEnd] is not ('=' or '&' or '?' or '#' or ';'))
            {
                keyEnd++;
            }

            if (keyEnd < to && text[keyEnd] == '=' && IsSecretKey(text.AsSpan(keyStart, keyEnd - keyStart)))
            {
                pathOnly = IsFilePathKey(text.AsSpan(keyStart, keyEnd - keyStart));
                return keyEnd + 1;
            }
        }

        return -1;
    }

    private static bool IsFilePathKey(ReadOnlySpan<char> key)
    {
        foreach (var pathKey in FilePathQueryKeys)
        {
            if (key.Equals(pathKey, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsSecretKey(ReadOnlySpan<char> key)
    {
        // Percent-encoded keys (pass%77ord) are decoded first; UnescapeDataString leaves invalid escapes as they are.
        var decoded = key.Contains('%') ? Uri.UnescapeDataString(key.ToString()) : key.ToString();
        foreach (var secret in SecretQueryKeys)
        {
            if (decoded.Contains(secret, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="host"/> can be a <c>host[:port]</c>: a bracketed IP literal or a name without delimiters,
    /// then optionally ':' and digits. Anything else may be part of a credential.
    /// </summary>
    private static bool IsPlausibleHost(ReadOnlySpan<char> host)
    {
        ReadOnlySpan<char> port;
        if (host.StartsWith('['))
        {
            var close = host.IndexOf(']');
            if (close < 0)
            {
                return false;
            }

            foreach (var c in host[1..close])
            {
                if (!(char.IsAsciiHexDigit(c) || c is ':' or '.' or '%' || char.IsAsciiLetterOrDigit(c)))
                {
                    return false;
                }
            }

            port = host[(close + 1)..];
            if (port.Length > 0 && port[0] != ':')
            {
                return false;
            }
        }
        else
        {
            var colon = host.IndexOf(':');
            var name = colon < 0 ? host : host[..colon];
            foreach (var c in name)
            {
                if (char.IsWhiteSpace(c) || char.IsControl(c) || "@:/?#[]<>\"'`^{}|\\,=&;".Contains(c, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            port = colon < 0 ? [] : host[colon..];
        }

        return port.Length == 0 || !port[1..].ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>RFC 3986: <c>ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )</c>.</summary>
    private static bool IsScheme(ReadOnlySpan<char> scheme)
    {
        if (scheme.Length == 0 || !char.IsAsciiLetter(scheme[0]))
        {
            return false;
        }

        foreach (var c in scheme)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    private static int LineEnd(string text, int from)
    {
        var end = text.AsSpan(from).IndexOfAny('\r', '\n');
        return end < 0 ? text.Length : from + end;
    }

    private static int TokenEnd(string text, int from, int lineEnd)
    {
        for (var i = from; i < lineEnd; i++)
        {
            if (char.IsWhiteSpace(text[i]) || text[i] is '\'' or '"' or '`' or '<' or '>')
            {
                return i;
            }
        }

        return lineEnd;
    }
}
