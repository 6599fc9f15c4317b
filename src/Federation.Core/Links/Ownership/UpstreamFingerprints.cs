using System.Security.Cryptography;
using System.Text;
using Federation.Core.Model;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// Which brokers each configured upstream of an instance reaches, as short hashes (names and broker addresses stay out of
/// the heartbeats), for the header <see cref="PresenceMessage.UpstreamsHeader"/>. A link's upstream queue lives on its
/// upstream's broker, and link ids do not say which broker that is: when a reload points a link at another broker, the
/// old broker's queue is still of use only to a live instance whose same-named upstream reaches that broker (see
/// <see cref="LinkOwnership.OthersRunningFrom"/>). Brokers are told apart as <see cref="UpstreamBroker"/> does.
/// </summary>
internal static class UpstreamFingerprints
{
    /// <summary>Upstream name hash to the hashes of the brokers its URIs reach.</summary>
    public static Dictionary<string, IReadOnlySet<string>> Of(IEnumerable<(string Name, IReadOnlyList<string> Uris)> upstreams)
    {
        var result = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var (name, uris) in upstreams)
        {
            result[Name(name)] = Brokers(uris);
        }

        return result;
    }

    public static string Name(string upstreamName) => Hash("upstream\n" + upstreamName);

    public static IReadOnlySet<string> Brokers(IReadOnlyList<string> uris) =>
        uris.Select(uri => Hash("broker\n" + UpstreamBroker.OrText(uri))).ToHashSet(StringComparer.Ordinal);

    /// <summary><c>name=broker,broker name=broker</c>, sorted, so that one configuration always reads alike.</summary>
    public static string Encode(IReadOnlyDictionary<string, IReadOnlySet<string>> fingerprints) =>
        string.Join(' ', fingerprints.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={string.Join(',', f.Value.Order(StringComparer.Ordinal))}"));

    /// <summary>The fingerprints in a header, or null when it is missing or does not read as such.</summary>
    public static Dictionary<string, IReadOnlySet<string>>? Decode(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var result = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var entry in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return null;
            }

            result[entry[..equals]] = entry[(equals + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        }

        return result;
    }

    // 12 hex digits (48 bits): a handful of upstreams per federation never collide in practice, and a collision only keeps
    // a queue that could have gone.
    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
}
