using Federation.Core.Model;
using Xunit;

namespace Federation.Core.Tests.Model;

public class UpstreamSetElementJsonTests
{
    [Fact]
    public void Elements_parse_in_order_with_their_overrides()
    {
        var elements = UpstreamSetElement.ListFromJson("""
            [
              {"upstream":"origin","exchange":"upstream","max-hops":2,"ack-mode":"no-ack"},
              {"upstream":"origin","exchange":"upstream2"},
              {"upstream":"backup"}
            ]
            """);

        Assert.Equal(["origin", "origin", "backup"], elements.Select(e => e.Upstream));
        Assert.Equal("upstream", elements[0].Exchange);
        Assert.Equal(2, elements[0].MaxHops);
        Assert.Equal(AckMode.NoAck, elements[0].AckMode);
        Assert.Equal("upstream2", elements[1].Exchange);
        Assert.Null(elements[1].MaxHops);
        Assert.Null(elements[2].Exchange);
    }

    [Fact]
    public void An_empty_set_is_valid() => Assert.Empty(UpstreamSetElement.ListFromJson("[]"));

    [Theory]
    [InlineData("""[{"upstream":"origin","uri":"amqp://a"}]""", "0:uri: Unrecognised terms")]
    [InlineData("""[{"exchange":"x"}]""", "0:upstream: is mandatory")]
    [InlineData("""[{"upstream":""}]""", "0:upstream: is mandatory")]
    [InlineData("""[{"upstream":"a"},{"upstream":1}]""", "1:upstream: '1' is not a string")]
    [InlineData("""[{"upstream":"a","prefetch-count":"10"}]""", "0:prefetch-count: '10' is not an integer")]
    [InlineData("""[{"upstream":"a","max-hops":0}]""", "0:max-hops: '0' must be at least 1")]
    [InlineData("""[{"upstream":"a","colour":"red"}]""", "0:colour: Unrecognised terms")]
    [InlineData("""[{"upstream":"a"}, "b"]""", "1: 'b' is not an object")]
    [InlineData("""{"upstream":"a"}""", "a JSON object is not a list of upstream set elements")]
    public void Bad_elements_are_rejected_naming_index_key_and_value(string json, string expectedError)
    {
        var e = Assert.Throws<FederationConfigurationException>(() => UpstreamSetElement.ListFromJson(json));

        Assert.Contains(e.Errors, error => error.StartsWith(expectedError, StringComparison.Ordinal));
    }

    [Fact]
    public void A_uri_in_an_element_is_rejected_without_showing_it()
    {
        var e = Assert.Throws<FederationConfigurationException>(
            () => UpstreamSetElement.ListFromJson($$"""[{"upstream":"origin","uri":"{{ModelTestData.OriginUri}}"}]"""));

        Assert.DoesNotContain(ModelTestData.Password, e.Message, StringComparison.Ordinal);
    }
}
