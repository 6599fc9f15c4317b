using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Collectives;

/// <summary>
/// The server a subject-transport URI reaches, as far as the URI alone tells (no DNS): two URIs with the same identity
/// reach one server, whatever their credentials, query, case of the host, written default port or trailing slash. Used to
/// refuse an instance whose <see cref="FederationBrokerOptions.FederationUri"/> and
/// <see cref="FederationBrokerOptions.CollectiveUri"/> are one server. Only what is certain counts: two host names of one
/// machine, or two servers of one NATS cluster, read as two (event 4018 tells of those at run time).
/// </summary>
internal static class SubjectServerIdentity
{
    /// <summary>The identity of <paramref name="uri"/>'s server, or null when it does not parse (validation reports that).</summary>
    public static string? Of(string? uri)
    {
        if (string.IsNullOrWhiteSpace(uri) || UriUserInfo.FindAmbiguity(uri) is not null)
        {
            return null;
        }

        if (uri.StartsWith(InMemoryTransport.Scheme + "://", StringComparison.OrdinalIgnoreCase))
        {
            // An in-memory subject server is found by its name alone (case-insensitive); the path names nothing to it.
            return InMemoryUri.Problems(uri).Count == 0 ? $"memory\n{InMemoryUri.Parse(uri).BrokerName.ToUpperInvariant()}" : null;
        }

        if (UpstreamBroker.Of(uri) is not { } broker)
        {
            return null;
        }

        // scheme, host, port ("" for the scheme's own), virtual host. A NATS server ignores the path, and nats:// and tls://
        // to one host and port reach one listener (both default to 4222); an AMQP vhost is a server of its own for subjects.
        var parts = broker.Split('\n');
        return parts[0] is "nats" or "tls" ? $"nats\n{parts[1]}\n{parts[2]}" : broker;
    }
}
