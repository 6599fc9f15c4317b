using System.Text;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// What an instance tells the instances of <em>other</em> federations on the same downstream, through one fanout exchange
/// that every federation shares (<see cref="Exchange"/>): its federation's cluster name, its name and run, and the
/// fingerprints of the links it holds (<see cref="FlowFingerprints"/>). Instances of one federation learn of each other on
/// their own presence exchange; this is only for noticing that two federations copy the same messages into the same
/// exchange (one host with a typo in its cluster name doubles every message, and nothing else would say so).
/// </summary>
/// <param name="Cluster">The sender's federation (cluster name).</param>
/// <param name="Instance">The sender's instance name.</param>
/// <param name="Incarnation">The sender's run.</param>
/// <param name="Flows">The fingerprints of the links the sender holds; empty when it holds none or has too many to list.</param>
internal sealed record FederationBeacon(string Cluster, string Instance, string Incarnation, IReadOnlySet<string> Flows)
{
    /// <summary>
    /// The exchange every federation's instances share. Under the presence exchanges' prefix, so that no policy federates
    /// it and a permission granted on <c>federation.presence.*</c> covers it; two words after the prefix, so that it is
    /// never one federation's own presence exchange (those have one word: the cluster name with dots replaced).
    /// </summary>
    public const string Exchange = Model.FederationDefinitions.PresenceExchangePrefix + "all.clusters";

    /// <summary>The header with the link fingerprints, separated by spaces.</summary>
    public const string FlowsHeader = "x-federation-flows";

    /// <summary>The most fingerprints a beacon lists (13 bytes each), as <see cref="PresenceMessage.MaxListedLinks"/> bounds a heartbeat.</summary>
    public const int MaxListedFlows = 5_000;

    // A first line that presence heartbeats never have, so that a heartbeat reader of any version ignores a beacon.
    private const string Word = "federation";

    // What a beacon of this version can be at most: four short lines, and MaxListedFlows fingerprints of 12 hex digits with
    // a space each. Anything larger was not made here (any client can publish on the shared exchange): it is ignored
    // before it is decoded, so that a forged beacon cannot make each instance keep megabytes for every run it invents.
    private const int MaxBodyBytes = 16 * 1024;
    private const int MaxFlowsChars = MaxListedFlows * 13;

    public byte[] Encode() => Encoding.UTF8.GetBytes($"{Word}\n{Incarnation}\n{Instance}\n{Cluster}");

    /// <summary>The header listing the flows, or null when there are none to list or too many.</summary>
    public Dictionary<string, object?>? Headers() =>
        Flows.Count is > 0 and <= MaxListedFlows
            ? new Dictionary<string, object?>(StringComparer.Ordinal) { [FlowsHeader] = string.Join(' ', Flows.Order(StringComparer.Ordinal)) }
            : null;

    /// <summary>Reads a beacon, or null for anything else (the exchange is open to any client).</summary>
    public static FederationBeacon? Decode(ReadOnlySpan<byte> body, IReadOnlyDictionary<string, object?>? headers)
    {
        // Every heartbeat passes here first (beacons and heartbeats share the presence queue): those are told apart by
        // their first line without decoding them twice.
        if (body.Length > MaxBodyBytes || !body.StartsWith("federation\n"u8))
        {
            return null;
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        // The cluster name is last: it may contain anything but a line break that ends the instance name before it.
        var parts = text.Split('\n', 4);
        if (parts is not [Word, { Length: > 0 } incarnation, { Length: > 0 } instance, { Length: > 0 } cluster])
        {
            return null;
        }

        var flows = headers?.GetValueOrDefault(FlowsHeader) switch
        {
            string { Length: <= MaxFlowsChars } s => s,
            byte[] { Length: <= MaxFlowsChars } utf8 => Encoding.UTF8.GetString(utf8),
            string or byte[] => null,
            _ => string.Empty,
        };
        if (flows is null)
        {
            return null;
        }

        return new FederationBeacon(cluster, instance, incarnation, flows.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal));
    }
}
