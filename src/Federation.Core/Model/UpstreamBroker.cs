using Federation.Core.Transport;

namespace Federation.Core.Model;

/// <summary>
/// The broker and virtual host an upstream URI reaches, as far as a link's upstream queue is concerned: scheme, host, port
/// and the decoded virtual host, where an empty path is <c>/</c> as in every transport here. Credentials and the query do
/// not count: a new password or another <c>heartbeat</c> reaches the same queue. Used where two URIs must be told to reach
/// one queue or not: two upstream elements of a policy that would share one (<see cref="UpstreamQueueSharing"/>), a reload
/// that moves a link (whose old queue is then deleted) or changes the downstream.
/// </summary>
/// <remarks>
/// Two ways of writing one address count as one broker, because taking them for two deletes a queue the new link consumes:
/// a reload from <c>amqp://rabbit</c> to <c>amqp://rabbit:5672</c>, or from <c>localhost</c> to <c>127.0.0.1</c>, read as a
/// move to another broker, whose "old" queue (the same queue) was deleted with what it held, and what the upstream published
/// until the new link had declared it again was lost. So a port written out that is the scheme's well-known one (see
/// <see cref="WellKnownPort"/>) is the same as none, and <c>localhost</c>, <c>127.0.0.1</c> and <c>::1</c> are one host. Other names of one host (a
/// host name and its address, a short and a full name) still count as two: telling them apart needs DNS, and a reload must
/// not wait for it.
/// </remarks>
internal static class UpstreamBroker
{
    /// <summary>The broker of <paramref name="uri"/>, or null when it does not parse as an absolute URI.</summary>
    public static string? Of(string uri) => Of(uri, asWritten: false);

    private static string? Of(string uri, bool asWritten)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed))
        {
            return null;
        }

        var path = parsed.AbsolutePath.TrimStart('/');
        var virtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);
        // A written port that is the scheme's own reads as none (not the other way round, so that the far more common URI
        // without a port reads, and hashes into heartbeats, as before this rule: instances of both versions agree on it).
        var port = parsed.IsDefaultPort || (!asWritten && parsed.Port == WellKnownPort(parsed.Scheme)) ? "" : parsed.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join('\n', parsed.Scheme, asWritten ? parsed.IdnHost : Host(parsed), port, virtualHost);
    }

    /// <summary>
    /// The port a URI of <paramref name="scheme"/> that names none connects to, for the schemes of this project's transports
    /// (their IANA ports, which RabbitMQ.Client and NATS.Client.Core use), or null for another scheme (the URI then reads
    /// as written).
    /// </summary>
    internal static int? WellKnownPort(string scheme) => scheme switch
    {
        "amqp" => 5672,
        "amqps" => 5671,
        "nats" or "tls" => 4222,
        _ => null,
    };

    // localhost and ::1 read as 127.0.0.1, which thus reads (and hashes) as before this rule.
    private static string Host(Uri uri) =>
        uri.HostNameType switch
        {
            UriHostNameType.Dns when uri.IdnHost.Equals("localhost", StringComparison.OrdinalIgnoreCase) => LoopbackHost,
            UriHostNameType.IPv6 when System.Net.IPAddress.TryParse(uri.DnsSafeHost, out var address) && address.Equals(System.Net.IPAddress.IPv6Loopback) => LoopbackHost,
            _ => uri.IdnHost,
        };

    private const string LoopbackHost = "127.0.0.1";

    /// <summary>
    /// Whether a URI of <paramref name="after"/> reaches a broker a URI of <paramref name="before"/> reaches. A URI that does
    /// not parse counts as its own broker, by its text without credentials and query.
    /// </summary>
    public static bool Shared(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var brokers = before.Select(OrText).ToHashSet(StringComparer.Ordinal);
        return after.Any(uri => brokers.Contains(OrText(uri)));
    }

    internal static string OrText(string uri) => OrText(uri, asWritten: false);

    /// <summary>
    /// <see cref="OrText(string)"/>, and the text versions before 6 Dec 2026 read (host and port as written, see the remarks)
    /// when it differs. Their heartbeats hash brokers so: a newer instance hashes both
    /// (<see cref="Links.Ownership.UpstreamFingerprints"/>, <see cref="Links.Ownership.FlowFingerprints"/>), so that the two
    /// still find each other.
    /// </summary>
    internal static IEnumerable<string> OrTextBothReadings(string uri)
    {
        var now = OrText(uri, asWritten: false);
        var before = OrText(uri, asWritten: true);
        return now == before ? [now] : [now, before];
    }

    private static string OrText(string uri, bool asWritten)
    {
        if (Of(uri, asWritten) is { } broker)
        {
            return broker;
        }

        var redacted = UriRedaction.Redact(uri);
        var end = redacted.IndexOfAny(['?', '#']);
        return end < 0 ? redacted : redacted[..end];
    }
}
