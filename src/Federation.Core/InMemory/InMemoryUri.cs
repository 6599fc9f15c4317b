using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>A parsed <c>memory://[user:pass@]broker[/vhost]</c> URI. The vhost path is URL-decoded; an empty path means <c>/</c>.</summary>
internal readonly record struct InMemoryUri(string BrokerName, string VirtualHost, string? User, string? Password)
{
    private const string Prefix = InMemoryTransport.Scheme + "://";

    /// <summary>The query keys a <c>memory://</c> URI accepts: none, since an in-memory broker has nothing to tune per connection.</summary>
    public static readonly IReadOnlyList<string> QueryKeys = [];

    /// <exception cref="ArgumentException">The URI is malformed; the message shows it without credentials.</exception>
    public static InMemoryUri Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return TryParse(uri, out var parsed, out var problems)
            ? parsed
            : throw new ArgumentException($"Malformed in-memory broker URI '{UriRedaction.Redact(uri)}': {string.Join("; ", problems)}.", nameof(uri));
    }

    /// <summary>What is wrong with <paramref name="uri"/>, one sentence per problem without the URI or credentials; empty when it parses.</summary>
    public static IReadOnlyList<string> Problems(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        _ = TryParse(uri, out _, out var problems);
        return problems;
    }

    private static bool TryParse(string uri, out InMemoryUri parsed, out List<string> problems)
    {
        parsed = default;
        problems = [];
        if (!uri.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"is not a {Prefix} URI");
            return false;
        }

        if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            problems.Add(ambiguity.TrimEnd('.'));
            return false;
        }

        var rest = uri[Prefix.Length..];
        var fragment = rest.IndexOf('#', StringComparison.Ordinal);
        var query = rest.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0 && (fragment < 0 || query < fragment))
        {
            CheckQuery(rest[(query + 1)..(fragment > query ? fragment : rest.Length)], problems);
        }

        var end = rest.IndexOfAny(['?', '#']);
        if (end >= 0)
        {
            rest = rest[..end];
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
            problems.Add($"has no broker name (expected {Prefix}[user:password@]broker[/vhost])");
        }

        if (problems.Count > 0)
        {
            return false;
        }

        var virtualHost = path.Length == 0 ? InMemoryBroker.DefaultVirtualHost : Uri.UnescapeDataString(path);
        parsed = new InMemoryUri(Uri.UnescapeDataString(authority), virtualHost, user, password);
        return true;
    }

    private static void CheckQuery(string query, List<string> problems)
    {
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? part : part[..eq];
            if (!QueryKeys.Contains(key, StringComparer.Ordinal))
            {
                problems.Add($"has the query key '{key}', which {InMemoryTransport.Scheme}:// URIs do not understand (they accept none)");
            }
        }
    }
}
