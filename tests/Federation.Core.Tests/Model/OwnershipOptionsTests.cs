using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Xunit;
using static Federation.Core.Tests.Model.ModelTestData;

namespace Federation.Core.Tests.Model;

/// <summary><c>Federation:Ownership</c>: the timings of spreading links over instances, bound from configuration and validated.</summary>
public class OwnershipOptionsTests
{
    [Fact]
    public void Left_out_the_timings_are_the_defaults()
    {
        var options = ReadConfiguration("""{ "Downstream": { "uri": "memory://london" } }""");

        Assert.Empty(FederationDefinitions.Validate(options));
        Assert.Equal(TimeSpan.FromSeconds(1), options.Ownership.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Ownership.PresenceTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Ownership.SettleTime);
        Assert.Equal(TimeSpan.FromSeconds(15), options.Ownership.FallbackDelay);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Ownership.LeaveTimeout);
        Assert.Equal(OwnershipTimings.Default, OwnershipTimings.From(FederationDefinitions.Create(options).Ownership));
    }

    [Fact]
    public void Each_timing_is_read_as_a_duration_and_reaches_the_definitions()
    {
        var options = ReadConfiguration("""
            { "Downstream": { "uri": "memory://london" },
              "Ownership": { "HeartbeatInterval": "00:00:00.500", "presencetimeout": "00:00:02", "SettleTime": "00:00:04",
                             "FallbackDelay": "00:01:00", "LeaveTimeout": "00:00:05" } }
            """);

        Assert.Empty(FederationDefinitions.Validate(options));
        var timings = OwnershipTimings.From(FederationDefinitions.Create(options).Ownership);
        Assert.Equal(
            new OwnershipTimings(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(5)),
            timings);
    }

    [Fact]
    public void The_definitions_keep_their_own_copy()
    {
        var options = new FederationOptions { Downstream = { Uri = "memory://london" } };
        var definitions = FederationDefinitions.Create(options);

        options.Ownership.HeartbeatInterval = TimeSpan.FromSeconds(0.5);

        Assert.Equal(TimeSpan.FromSeconds(1), definitions.Ownership.HeartbeatInterval);
    }

    [Theory]
    [InlineData("""{ "HeartbeatInterval": "1" }""", "Ownership:HeartbeatInterval: '1' is not a duration (hh:mm:ss, for example 00:00:01 or 00:00:00.500)")]
    [InlineData("""{ "HeartbeatInterval": "soon" }""", "Ownership:HeartbeatInterval: 'soon' is not a duration")]
    [InlineData("""{ "PresenceTimeout": { "seconds": 3 } }""", "Ownership:PresenceTimeout: a section is not a duration")]
    [InlineData("""{ "HeartbeatIntervall": "00:00:01" }""",
        "Ownership:HeartbeatIntervall: Unrecognised terms: not a recognised key; the Ownership section accepts HeartbeatInterval, PresenceTimeout, SettleTime, FallbackDelay, LeaveTimeout; did you mean 'HeartbeatInterval'?")]
    [InlineData("""{ "Heartbeat": "00:00:01" }""",
        "Ownership:Heartbeat: Unrecognised terms: not a recognised key; the Ownership section accepts HeartbeatInterval, PresenceTimeout, SettleTime, FallbackDelay, LeaveTimeout")]
    [InlineData("\"00:00:01\"", "Ownership: '00:00:01' is not a section")]
    [InlineData("""[ "00:00:01" ]""", "Ownership: is a list, not a section")]
    [InlineData("""{ "HeartbeatInterval": "00:00:00" }""", "Ownership:HeartbeatInterval: '00:00:00' is not positive")]
    [InlineData("""{ "LeaveTimeout": "-00:00:01" }""", "Ownership:LeaveTimeout: '-00:00:01' is not positive")]
    [InlineData("""{ "FallbackDelay": "2.00:00:00" }""", "Ownership:FallbackDelay: '2.00:00:00' is longer than a day")]
    [InlineData("""{ "HeartbeatInterval": "00:00:02" }""",
        "Ownership:PresenceTimeout: '00:00:03' is shorter than three heartbeats (HeartbeatInterval '00:00:02' x 3 = '00:00:06'): a heartbeat or two lost or late would make the others take a live instance's links")]
    [InlineData("""{ "PresenceTimeout": "00:00:02" }""", "Ownership:PresenceTimeout: '00:00:02' is shorter than three heartbeats (HeartbeatInterval '00:00:01' x 3 = '00:00:03')")]
    [InlineData("""{ "SettleTime": "00:00:00.500" }""",
        "Ownership:SettleTime: '00:00:00.5000000' is shorter than one heartbeat (HeartbeatInterval '00:00:01'): links would be handed to an instance on the first heartbeat heard from it, and bounce while it flaps")]
    [InlineData("""{ "FallbackDelay": "00:00:02" }""",
        "Ownership:FallbackDelay: '00:00:02' is shorter than the PresenceTimeout '00:00:03': the runner-up would ask for a link's lease before it could tell whether the instance the link belongs on is gone")]
    public void Bad_timings_are_reported_naming_the_key_and_the_values(string ownershipJson, string expectedError)
    {
        var options = ReadConfiguration("""{ "Downstream": { "uri": "memory://london" }, "Ownership": """ + ownershipJson + " }");

        var errors = FederationDefinitions.Validate(options);

        Assert.True(errors.Any(e => e.StartsWith(expectedError, StringComparison.Ordinal)), $"expected '{expectedError}', got: {string.Join(" | ", errors)}");
        Assert.Throws<FederationConfigurationException>(() => FederationDefinitions.Create(options));
    }

    [Fact]
    public void Options_set_in_code_are_held_to_the_same_relations()
    {
        var options = new FederationOptions { Downstream = { Uri = "memory://london" } };
        options.Ownership.HeartbeatInterval = TimeSpan.FromSeconds(5);

        var errors = FederationDefinitions.Validate(options);

        Assert.Equal(
            [
                "Ownership:PresenceTimeout: '00:00:03' is shorter than three heartbeats (HeartbeatInterval '00:00:05' x 3 = '00:00:15'): a heartbeat or two lost or late would make the others take a live instance's links",
                "Ownership:SettleTime: '00:00:03' is shorter than one heartbeat (HeartbeatInterval '00:00:05'): links would be handed to an instance on the first heartbeat heard from it, and bounce while it flaps",
            ],
            errors);
    }

    [Fact]
    public void A_null_ownership_section_is_reported()
    {
        var options = new FederationOptions { Downstream = { Uri = "memory://london" }, Ownership = null! };

        Assert.Contains("Ownership: is null", FederationDefinitions.Validate(options));
    }
}
