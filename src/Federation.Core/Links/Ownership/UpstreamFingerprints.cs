using System.Security.Cryptography;
using System.Text;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// Which brokers each configured upstream of an instance reaches, and with which kind of upstream queue, as short hashes
/// (names and broker addresses stay out of the heartbeats), for the header <see cref="PresenceMessage.UpstreamsHeader"/>. A
/// link's upstream queue lives on its upstream's broker, and link ids do not say which broker that is nor which kind of
/// queue the link declares there (NATS: a JetStream durable consumer or core NATS, <see cref="ITransport.UpstreamQueueKind"/>):
/// when a reload points a link at another broker or switches its kind, the old queue is still of use only to a live instance
/// whose same-named upstream reaches that broker with that kind (see <see cref="LinkOwnership.OthersRunningFrom"/>). Brokers
/// are told apart as <see cref="UpstreamBroker"/> does, kinds by <see cref="ITransport.CoarseUpstreamQueueKind"/>.
/// </summary>
/// <remarks>
/// Each broker reads as its hash and, where its transport tells kinds apart, also as <c>broker.kind</c>: the header keeps
/// its format, and the plain hash stays for the instances of the versions before kinds, which look for it alone. Of the two
/// errors mixed versions can make, keeping a queue that could go (it fills up until deleted by hand) is the safe one;
/// deleting a queue that another instance still runs from (it loses what the queue held, and the upstream stops routing to
/// that instance's link) is not. Hence the plain hash: without it an older instance would find no instance reaching the
/// broker and delete the queue of a newer one; with it, it keeps the old kind's queue for a newer one that switched, as
/// before kinds. And a newer instance counts one whose heartbeats say no kind for a broker (an older version, or a
/// transport that does not tell kinds) as having any kind there (<see cref="Reaches"/>): it keeps the queue for it.
/// </remarks>
internal static class UpstreamFingerprints
{
    /// <summary>Upstream name hash to the hashes of the brokers its URIs reach, with their kinds.</summary>
    /// <param name="upstreams">The upstreams, by name, with their URIs.</param>
    /// <param name="kindOf">The coarse kind of upstream queue a URI declares (<see cref="ITransport.CoarseUpstreamQueueKind"/>), or null when its transport does not say.</param>
    public static Dictionary<string, IReadOnlySet<string>> Of(IEnumerable<(string Name, IReadOnlyList<string> Uris)> upstreams, Func<string, string?>? kindOf = null)
    {
        var result = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var (name, uris) in upstreams)
        {
            result[Name(name)] = Brokers(uris, kindOf);
        }

        return result;
    }

    public static string Name(string upstreamName) => Hash("upstream\n" + upstreamName);

    /// <summary>The hash of each broker that <paramref name="uris"/> reach, and <c>broker.kind</c> for each URI whose transport tells its kind.</summary>
    public static IReadOnlySet<string> Brokers(IReadOnlyList<string> uris, Func<string, string?>? kindOf = null)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var uri in uris)
        {
            var kind = kindOf?.Invoke(uri);

            // Also as versions before 6 Dec 2026 hash it (localhost or ::1 as written, a port written out that is the
            // scheme's own): an older instance with the same URI looks for that hash, and a newer one finds the older's
            // by it. Without it each took the other for an instance that does not reach the broker, and deleted the
            // queue the other still consumed (the unsafe error of the two; see the remarks).
            foreach (var text in UpstreamBroker.OrTextBothReadings(uri))
            {
                var broker = Hash("broker\n" + text);
                result.Add(broker);
                if (kind is not null)
                {
                    result.Add(broker + KindSeparator + Hash("kind\n" + kind));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Whether an instance whose upstream reaches <paramref name="reached"/> (from its heartbeats) can consume the queue of a
    /// link whose upstream reached <paramref name="wanted"/> (<see cref="Brokers"/>): it reaches one of those brokers, with
    /// the same kind of queue there, unless either side does not tell the kind (an older version, a transport with one kind),
    /// which counts as the same kind.
    /// </summary>
    public static bool Reaches(IReadOnlySet<string> reached, IReadOnlySet<string> wanted)
    {
        foreach (var broker in wanted.Where(w => !w.Contains(KindSeparator, StringComparison.Ordinal)))
        {
            if (!reached.Contains(broker))
            {
                continue;
            }

            var prefix = broker + KindSeparator;
            var kinds = wanted.Where(w => w.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            if (kinds.Count == 0 || !reached.Any(r => r.StartsWith(prefix, StringComparison.Ordinal)) || kinds.Any(reached.Contains))
            {
                return true;
            }
        }

        return false;
    }

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

    private const char KindSeparator = '.';

    // 12 hex digits (48 bits): a handful of upstreams per federation never collide in practice, and a collision only keeps
    // a queue that could have gone.
    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
}
