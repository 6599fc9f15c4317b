using System.Text;
using Federation.Core.Links.Ownership;

namespace Federation.Core.Tests.Links.Ownership;

/// <summary>
/// Beacons travel on an exchange every client of the downstream may publish to: what an instance keeps of one must be
/// bounded by what an instance of this version can send, whatever a forged one carries.
/// </summary>
public sealed class FederationBeaconTests
{
    private static readonly string[] Flows = ["0123456789ab", "ba9876543210"];

    [Fact]
    public void A_beacon_round_trips_with_its_flows()
    {
        var beacon = new FederationBeacon("eu-west", "host-a", "run-1", Flows.ToHashSet(StringComparer.Ordinal));

        var decoded = FederationBeacon.Decode(beacon.Encode(), beacon.Headers());

        Assert.NotNull(decoded);
        Assert.Equal(("eu-west", "host-a", "run-1"), (decoded.Cluster, decoded.Instance, decoded.Incarnation));
        Assert.Equal(Flows, decoded.Flows.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_beacon_listing_more_flows_than_any_instance_lists_is_ignored_not_kept()
    {
        // An instance lists at most MaxListedFlows fingerprints (it sends none beyond); a header of a million is forged,
        // and would cost every instance 50 MB per run it invents.
        var forged = string.Join(' ', Enumerable.Range(0, FederationBeacon.MaxListedFlows + 1).Select(i => i.ToString("x12", System.Globalization.CultureInfo.InvariantCulture)));
        var body = new FederationBeacon("eu-wset", "mallory", "run-2", new HashSet<string>()).Encode();

        Assert.Null(FederationBeacon.Decode(body, new Dictionary<string, object?> { [FederationBeacon.FlowsHeader] = forged }));
        Assert.Null(FederationBeacon.Decode(body, new Dictionary<string, object?> { [FederationBeacon.FlowsHeader] = Encoding.UTF8.GetBytes(forged) }));

        var most = string.Join(' ', Enumerable.Range(0, FederationBeacon.MaxListedFlows).Select(i => i.ToString("x12", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(FederationBeacon.MaxListedFlows, FederationBeacon.Decode(body, new Dictionary<string, object?> { [FederationBeacon.FlowsHeader] = most })?.Flows.Count);
    }

    [Fact]
    public void A_beacon_with_a_huge_body_is_ignored()
    {
        var body = Encoding.UTF8.GetBytes($"federation\nrun-3\nmallory\n{new string('x', 1024 * 1024)}");

        // Not Assert.Null: on failure it would print the megabyte.
        Assert.True(FederationBeacon.Decode(body, null) is null, "a beacon with a 1 MiB cluster name should be ignored");
    }
}
