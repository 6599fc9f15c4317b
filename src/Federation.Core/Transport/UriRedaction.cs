namespace Federation.Core.Transport;

/// <summary>Removes secrets from broker URIs so they can be logged, shown in status and written into <c>x-received-from</c>.</summary>
public static class UriRedaction
{
    private static readonly string[] SecretQueryKeys = ["password", "pass", "token", "secret", "key", "keyfile", "certfile", "auth", "nkey", "jwt"];

    /// <summary>
    /// Returns <paramref name="uri"/> without user information and with secret-looking query parameters masked,
    /// as the federation plugin does for status entries: <c>amqp://user:pass@host:5672/vh</c> becomes <c>amqp://host:5672/vh</c>.
    /// Never throws: an unparseable URI is reduced to its scheme.
    /// </summary>
    public static string Redact(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var schemeEnd = uri.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            // Not something we can take apart safely; show nothing that could be a secret.
            return uri.Contains('@', StringComparison.Ordinal) ? "<redacted>" : uri;
        }

        var authorityStart = schemeEnd + 3;
        var authorityEnd = uri.IndexOfAny(['/', '?', '#'], authorityStart);
        if (authorityEnd < 0)
        {
            authorityEnd = uri.Length;
        }

        var at = uri.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart);
        var hostStart = at >= 0 ? at + 1 : authorityStart;
        var result = string.Concat(uri.AsSpan(0, authorityStart), uri.AsSpan(hostStart));

        var query = result.IndexOf('?', StringComparison.Ordinal);
        if (query < 0)
        {
            return result;
        }

        var parts = result[(query + 1)..].Split('&');
        for (var i = 0; i < parts.Length; i++)
        {
            var eq = parts[i].IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? parts[i] : parts[i][..eq];
            if (Array.Exists(SecretQueryKeys, k => key.Contains(k, StringComparison.OrdinalIgnoreCase)))
            {
                parts[i] = key + "=<redacted>";
            }
        }

        return string.Concat(result.AsSpan(0, query + 1), string.Join('&', parts));
    }
}
