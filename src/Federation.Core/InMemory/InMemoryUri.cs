using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>A parsed <c>memory://[user:pass@]broker[/vhost]</c> URI. The vhost path is URL-decoded; an empty path means <c>/</c>.</summary>
internal readonly record struct InMemoryUri(string BrokerName, string VirtualHost, string? User, string? Password)
{
    private const string Prefix = InMemoryTransport.Scheme + "://";

    /// <exception cref="ArgumentException">The URI is malformed; the message shows it without credentials.</exception>
    public static InMemoryUri Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            throw Malformed(uri, $"the scheme must be '{InMemoryTransport.Scheme}'");
        }

        if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            throw new ArgumentException($"Malformed in-memory broker URI '{UriRedaction.Redact(uri)}': {ambiguity}", nameof(uri));
        }

        var rest = uri[Prefix.Length..];
        var queryOrFragment = rest.IndexOfAny(['?', '#']);
        if (queryOrFragment >= 0)
        {
            rest = rest[..queryOrFragment];
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? string.Empty : rest[(slash + 1)..];

        string? user = null;
        string? password = null;
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            authority = authority[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            password = colon < 0 ? string.Empty : Uri.UnescapeDataString(userInfo[(colon + 1)..]);
        }

        if (authority.Length == 0)
        {
            throw Malformed(uri, "the broker name is missing");
        }

        var virtualHost = path.Length == 0 ? InMemoryBroker.DefaultVirtualHost : Uri.UnescapeDataString(path);
        return new InMemoryUri(Uri.UnescapeDataString(authority), virtualHost, user, password);
    }

    private static ArgumentException Malformed(string uri, string reason) =>
        new($"Malformed in-memory broker URI '{UriRedaction.Redact(uri)}': {reason}. Expected {Prefix}[user:password@]broker[/vhost].", nameof(uri));
}
