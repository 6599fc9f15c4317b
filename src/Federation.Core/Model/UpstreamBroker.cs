using Federation.Core.Transport;

namespace Federation.Core.Model;

/// <summary>
/// The broker and virtual host an upstream URI reaches, as far as a link's upstream queue is concerned: scheme, host, port
/// as written (a port left to the scheme's default differs from one written out) and the decoded virtual host, where an
/// empty path is <c>/</c> as in every transport here. Credentials and the query do not count: a new password or another
/// <c>heartbeat</c> reaches the same queue. Used where two URIs must be told to reach one queue or not: two upstream
/// elements of a policy that would share one (<see cref="UpstreamQueueSharing"/>), a reload that moves a link.
/// </summary>
internal static class UpstreamBroker
{
    /// <summary>The broker of <paramref name="uri"/>, or null when it does not parse as an absolute URI.</summary>
    public static string? Of(string uri)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed))
        {
            return null;
        }

        var path = parsed.AbsolutePath.TrimStart('/');
        var virtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);
        var port = parsed.IsDefaultPort ? "" : parsed.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join('\n', parsed.Scheme, parsed.IdnHost, port, virtualHost);
    }

    /// <summary>
    /// Whether a URI of <paramref name="after"/> reaches a broker a URI of <paramref name="before"/> reaches. A URI that does
    /// not parse counts as its own broker, by its text without credentials and query.
    /// </summary>
    public static bool Shared(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var brokers = before.Select(OrText).ToHashSet(StringComparer.Ordinal);
        return after.Any(uri => brokers.Contains(OrText(uri)));
    }

    internal static string OrText(string uri)
    {
        if (Of(uri) is { } broker)
        {
            return broker;
        }

        var redacted = UriRedaction.Redact(uri);
        var end = redacted.IndexOfAny(['?', '#']);
        return end < 0 ? redacted : redacted[..end];
    }
}
