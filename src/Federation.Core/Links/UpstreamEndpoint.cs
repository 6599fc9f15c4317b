using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Where an upstream URI leads, as far as the link's upstream objects are concerned: scheme, host, port and virtual host,
/// without the credentials and the query. Two URIs with the same endpoint reach the same upstream queue, so a new
/// password or another <c>heartbeat</c> does not move a link's queue, while another host or virtual host does.
/// </summary>
internal static class UpstreamEndpoint
{
    /// <summary>The endpoint of <paramref name="uri"/>: its redacted form up to the query or fragment, scheme and host in lower case.</summary>
    public static string Of(string uri)
    {
        var redacted = UriRedaction.Redact(uri);
        var end = redacted.IndexOfAny(['?', '#']);
        var endpoint = end < 0 ? redacted : redacted[..end];
        var authority = endpoint.IndexOf("://", StringComparison.Ordinal);
        var path = authority < 0 ? -1 : endpoint.IndexOf('/', authority + 3);
        var split = path < 0 ? endpoint.Length : path;

        // A trailing "/" names no virtual host; the default one is what a URI without a path means too.
        var rest = endpoint[split..].TrimEnd('/');
        return endpoint[..split].ToLowerInvariant() + rest;
    }

    /// <summary>Whether the two URI lists share an endpoint: a link moving from one to the other still reaches the same upstream queue.</summary>
    public static bool Overlap(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var old = before.Select(Of).ToHashSet(StringComparer.Ordinal);
        return after.Any(uri => old.Contains(Of(uri)));
    }
}
