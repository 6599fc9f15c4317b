using System.Text.Json;
using Federation.Core.Links;

namespace Federation.Core.Tests.Links;

/// <summary>
/// A <see cref="LinkStatus"/> returned as JSON (a minimal API's <c>Results.Ok(status.GetLinks())</c>) shows the state by
/// the name metrics and <c>rabbitmqctl</c> use, with whatever serializer options the application has, not as a number.
/// </summary>
public sealed class LinkStatusJsonTests
{
    public static TheoryData<JsonSerializerOptions> SerializerOptions() => [JsonSerializerOptions.Default, JsonSerializerOptions.Web, new JsonSerializerOptions()];

    [Theory]
    [MemberData(nameof(SerializerOptions))]
    public void The_state_serialises_as_its_lower_case_name(JsonSerializerOptions options)
    {
        var status = new LinkStatus("8e9199af", "x", "x", "tokyo", "/", "memory://tokyo/%2F", LinkState.Running, null, null, "fed", DateTimeOffset.UnixEpoch);

        using var json = JsonDocument.Parse(JsonSerializer.Serialize(status, options));

        var state = json.RootElement.EnumerateObject().Single(p => p.Name.Equals("state", StringComparison.OrdinalIgnoreCase)).Value;
        Assert.Equal(JsonValueKind.String, state.ValueKind);
        Assert.Equal("running", state.GetString());
    }

    [Fact]
    public void Every_state_round_trips_by_the_name_metrics_use()
    {
        foreach (var state in Enum.GetValues<LinkState>())
        {
            var json = JsonSerializer.Serialize(state);

            Assert.Equal($"\"{LinkStateNames.Of(state)}\"", json);
            Assert.Equal(state, JsonSerializer.Deserialize<LinkState>(json));
        }
    }
}
