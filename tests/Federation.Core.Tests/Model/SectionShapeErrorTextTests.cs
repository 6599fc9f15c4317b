using Federation.Core.Model;
using Xunit;
using static Federation.Core.Tests.Model.ModelTestData;

namespace Federation.Core.Tests.Model;

/// <summary>
/// The whole text of each error for a value of the wrong shape (a scalar or a list where a section or an object belongs),
/// hint included: every reader words it its own way through one check (ParameterReading.ReadProperties), and the other
/// tests only match the start of an error, which would not notice a hint that went missing or moved to the other error.
/// </summary>
public sealed class SectionShapeErrorTextTests
{
    [Theory]
    [InlineData("""{ "Downstream": "memory://london" }""",
        "Downstream: 'memory://london' is not a section; write Downstream:uri")]
    [InlineData("""{ "Downstream": [ "memory://london" ] }""",
        "Downstream: is a list, not a section; write Downstream:uri")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": "amqp://a" }""",
        "Upstreams: 'amqp://a' is not a section of named entries")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Policies": [ { "pattern": "x" } ] }""",
        "Policies: is a list, not a section of named entries; write an object whose keys are the names (a name of digits only cannot be told from a list position)")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Ownership": "00:00:01" }""",
        "Ownership: '00:00:01' is not a section; write Ownership:HeartbeatInterval and so on")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Ownership": [ "00:00:01" ] }""",
        "Ownership: is a list, not a section")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": "amqp://a" } }""",
        "Upstreams:origin: 'amqp://a' is not an object")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": [ "amqp://a" ] } }""",
        "Upstreams:origin: is a list, not an object")]
    public void A_value_of_the_wrong_shape_is_reported_in_its_readers_own_words(string json, string expectedError)
    {
        var errors = FederationDefinitions.Validate(ReadConfiguration(json));

        Assert.True(errors.Contains(expectedError, StringComparer.Ordinal), $"expected exactly '{expectedError}', got: {string.Join(" | ", errors)}");
    }
}
