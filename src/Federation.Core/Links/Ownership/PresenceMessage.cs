using System.Text;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// What an instance says on the presence exchange: that it is alive, or that it leaves (a clean stop), with its name and
/// incarnation. Three lines of UTF-8 text, so that an operator can read them with any client. An alive message also
/// names, in the header <see cref="WaitingHeader"/>, the links this instance runs and wants to hold but could not (its
/// lease attempt was refused), and in <see cref="HoldingHeader"/> the links it holds. A holder hands a link over only to
/// an instance that waits for it, and an instance stands by for a link only while the instance placement puts it on holds
/// it or waits for it: instances with other configurations on the same downstream never stop each other's links.
/// </summary>
/// <param name="Leaving">A clean stop rather than a heartbeat.</param>
/// <param name="Instance">The instance's name.</param>
/// <param name="Incarnation">The instance's run.</param>
/// <param name="Waiting">
/// The ids of the links this instance waits for; null when the message does not say (an instance of a version before the
/// header, which took any link placed on it).
/// </param>
/// <param name="Holding">The ids of the links this instance holds; null when the message does not say.</param>
/// <param name="Leases">
/// Where this instance keeps its link leases (<see cref="Transport.IBrokerLeases.Location"/>), in the header
/// <see cref="LeasesHeader"/>; null when its transport does not say or the message does not.
/// </param>
/// <param name="StandingBy">
/// The ids of the other links this instance has (it neither holds them nor was refused their lease: placement puts them
/// elsewhere), in the header <see cref="StandingByHeader"/>; null when the message does not say. Only for an instance that
/// drops a link from its configuration: it keeps the link's upstream queue while another instance has the link (see
/// <see cref="LinkOwnership.OthersRunning"/>).
/// </param>
/// <param name="Failing">
/// The ids of the held links whose runs fail here (the link is in error while this instance holds its lease), in the header
/// <see cref="FailingHeader"/>; null when the message does not say. An instance that waits for such a link shows it down
/// too: it runs nowhere, though a holder has it.
/// </param>
/// <param name="Upstreams">
/// Which brokers this instance's configured upstreams reach, hashed (see <see cref="UpstreamFingerprints"/>), in the header
/// <see cref="UpstreamsHeader"/>; null when the message does not say. Read when a reload moves a link to another broker:
/// the old broker's queue is kept only for an instance whose same-named upstream still reaches it.
/// </param>
/// <param name="Started">
/// When this run started (its own clock, to the millisecond), in the header <see cref="StartedHeader"/>; null when the
/// message does not say. Of several runs with one name (an operator's mistake), the first acts (see <see cref="NamesakeRuns"/>).
/// </param>
/// <param name="AsideFor">
/// The incarnation of the earlier run of the same name that this run stands aside for, in the header
/// <see cref="AsideForHeader"/>; null while it acts. The other instances ignore such a heartbeat: the name is the other run's.
/// </param>
internal sealed record PresenceMessage(bool Leaving, string Instance, string Incarnation, IReadOnlySet<string>? Waiting = null, IReadOnlySet<string>? Holding = null, string? Leases = null, IReadOnlySet<string>? StandingBy = null, IReadOnlySet<string>? Failing = null, IReadOnlyDictionary<string, IReadOnlySet<string>>? Upstreams = null, DateTimeOffset? Started = null, string? AsideFor = null)
{
    /// <summary>The header with when the run started, in milliseconds since 1970 (UTC), as decimal text.</summary>
    public const string StartedHeader = "x-federation-started";

    /// <summary>The header with the incarnation of the earlier run of the same name that this run stands aside for.</summary>
    public const string AsideForHeader = "x-federation-aside-for";

    /// <summary>The header with the ids of the links the instance waits for, separated by spaces (link ids are hex).</summary>
    public const string WaitingHeader = "x-federation-waiting";

    /// <summary>The header with the ids of the links the instance holds, separated by spaces.</summary>
    public const string HoldingHeader = "x-federation-holding";

    /// <summary>The header with where the instance keeps its leases; instances whose leases live apart would both run a link.</summary>
    public const string LeasesHeader = "x-federation-leases";

    /// <summary>The header with the ids of the instance's other links (neither held nor waited for), separated by spaces.</summary>
    public const string StandingByHeader = "x-federation-standing-by";

    /// <summary>The header with the ids of the held links that fail here, separated by spaces (a subset of the held ones).</summary>
    public const string FailingHeader = "x-federation-failing";

    /// <summary>The header with the hashed brokers of the instance's upstreams (<see cref="UpstreamFingerprints.Encode"/>).</summary>
    public const string UpstreamsHeader = "x-federation-upstreams";

    private const string AliveWord = "alive";
    private const string LeavingWord = "leaving";

    public byte[] Encode() => Encoding.UTF8.GetBytes($"{(Leaving ? LeavingWord : AliveWord)}\n{Incarnation}\n{Instance}");

    /// <summary>
    /// The most link ids a heartbeat lists (about 9 bytes each): beyond this the headers would crowd an AMQP frame (128 KiB by
    /// default), so a heartbeat of an instance with more links says nothing of them, and the others treat it as one that
    /// may run any link (stand by for it, hand links to it), as before these headers.
    /// </summary>
    public const int MaxListedLinks = 5_000;

    /// <summary>The headers of the message: where its leases live, and the waiting, the held and the other links, when it says them.</summary>
    /// <param name="listLinks">False leaves the links out (they did not fit in a message), whatever the message says.</param>
    public Dictionary<string, object?>? Headers(bool listLinks = true)
    {
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (Started is { } started)
        {
            headers[StartedHeader] = started.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (AsideFor is not null)
        {
            headers[AsideForHeader] = AsideFor;
        }

        if (Leases is not null)
        {
            headers[LeasesHeader] = Leases;
        }

        // One entry per configured upstream, not per link: small whatever the number of links.
        if (Upstreams is not null)
        {
            headers[UpstreamsHeader] = UpstreamFingerprints.Encode(Upstreams);
        }

        var claimed = (Waiting?.Count ?? 0) + (Holding?.Count ?? 0);
        if (!listLinks || (Waiting is null && Holding is null) || claimed > MaxListedLinks)
        {
            return headers.Count > 0 ? headers : null;
        }

        if (Waiting is not null)
        {
            headers[WaitingHeader] = string.Join(' ', Waiting.Order(StringComparer.Ordinal));
        }

        if (Holding is not null)
        {
            headers[HoldingHeader] = string.Join(' ', Holding.Order(StringComparer.Ordinal));
        }

        // A subset of the held links, so it stays within the limit's order of magnitude; left out when none fails.
        if (Failing is { Count: > 0 } && Holding is not null)
        {
            headers[FailingHeader] = string.Join(' ', Failing.Where(Holding.Contains).Order(StringComparer.Ordinal));
        }

        // Only where the limit leaves room: without it the others keep an instance's queues a little less often, while without
        // the claims they would treat it as an instance of an older version.
        if (StandingBy is not null && claimed + StandingBy.Count <= MaxListedLinks)
        {
            headers[StandingByHeader] = string.Join(' ', StandingBy.Order(StringComparer.Ordinal));
        }

        return headers;
    }

    /// <summary>Reads a message, or null for anything else (which is ignored: the exchange is open to any client).</summary>
    public static PresenceMessage? Decode(ReadOnlySpan<byte> body, IReadOnlyDictionary<string, object?>? headers = null)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        var parts = text.Split('\n', 3);
        return parts.Length == 3 && parts[0] is AliveWord or LeavingWord && parts[1].Length > 0 && parts[2].Length > 0
            ? new PresenceMessage(parts[0] == LeavingWord, parts[2], parts[1], ReadIds(headers, WaitingHeader), ReadIds(headers, HoldingHeader), ReadText(headers, LeasesHeader), ReadIds(headers, StandingByHeader), ReadIds(headers, FailingHeader), UpstreamFingerprints.Decode(ReadText(headers, UpstreamsHeader)), ReadStarted(headers), ReadText(headers, AsideForHeader))
            : null;
    }

    private static DateTimeOffset? ReadStarted(IReadOnlyDictionary<string, object?>? headers) =>
        long.TryParse(ReadText(headers, StartedHeader), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms)
        && ms <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : null;

    private static HashSet<string>? ReadIds(IReadOnlyDictionary<string, object?>? headers, string name) =>
        ReadText(headers, name) is { } text ? new HashSet<string>(text.Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal) : null;

    private static string? ReadText(IReadOnlyDictionary<string, object?>? headers, string name) => headers?.GetValueOrDefault(name) switch
    {
        string s => s,
        byte[] utf8 => Encoding.UTF8.GetString(utf8),
        _ => null,
    };
}
