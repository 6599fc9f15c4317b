using Federation.Core.Model;
using Xunit;

namespace Federation.Core.Tests.Model;

/// <summary><c>reconnect-backoff</c> and <c>reconnect-delay-max</c>: parsed, validated and resolved like the plugin's keys.</summary>
public class ReconnectBackoffKeysTests
{
    [Fact]
    public void Both_keys_parse_on_an_upstream()
    {
        var upstream = UpstreamDefinition.FromJson("""{"uri":"amqp://a","reconnect-delay":2,"reconnect-backoff":"fixed","reconnect-delay-max":30}""");

        Assert.Equal(ReconnectBackoffMode.Fixed, upstream.ReconnectBackoff);
        Assert.Equal(30, upstream.ReconnectDelayMaxSeconds);
        var resolved = ResolvedUpstream.FromDefinition("origin", upstream);
        Assert.Equal(ReconnectBackoffMode.Fixed, resolved.ReconnectBackoff);
        Assert.Equal(TimeSpan.FromSeconds(30), resolved.ReconnectDelayMax);
    }

    [Fact]
    public void Unset_keys_resolve_to_exponential_with_a_one_minute_cap()
    {
        var resolved = ResolvedUpstream.FromDefinition("origin", UpstreamDefinition.FromJson("""{"uri":"amqp://a"}"""));

        Assert.Equal(ReconnectBackoffMode.Exponential, resolved.ReconnectBackoff);
        Assert.Equal(TimeSpan.FromSeconds(5), resolved.ReconnectDelay);
        Assert.Equal(TimeSpan.FromSeconds(60), resolved.ReconnectDelayMax);
    }

    [Fact]
    public void A_set_element_overrides_both_keys()
    {
        var upstream = ResolvedUpstream.FromDefinition("origin", UpstreamDefinition.FromJson("""{"uri":"amqp://a","reconnect-delay-max":30}"""));
        var element = Assert.Single(UpstreamSetElement.ListFromJson("""[{"upstream":"origin","reconnect-backoff":"fixed","reconnect-delay-max":90}]"""));

        var resolved = upstream.WithOverrides(element);

        Assert.Equal(ReconnectBackoffMode.Fixed, resolved.ReconnectBackoff);
        Assert.Equal(TimeSpan.FromSeconds(90), resolved.ReconnectDelayMax);
        Assert.NotEqual(upstream, resolved);
    }

    [Fact]
    public void A_set_elements_longer_delay_raises_the_upstreams_cap()
    {
        var upstream = ResolvedUpstream.FromDefinition("origin", UpstreamDefinition.FromJson("""{"uri":"amqp://a","reconnect-delay-max":10}"""));
        var element = Assert.Single(UpstreamSetElement.ListFromJson("""[{"upstream":"origin","reconnect-delay":20}]"""));

        Assert.Equal(TimeSpan.FromSeconds(20), upstream.WithOverrides(element).ReconnectDelayMax);
    }

    [Theory]
    [InlineData("""{"uri":"amqp://a","reconnect-backoff":"linear"}""", "reconnect-backoff: 'linear' is not one of exponential, fixed")]
    [InlineData("""{"uri":"amqp://a","reconnect-backoff":1}""", "reconnect-backoff: '1' is not one of exponential, fixed")]
    [InlineData("""{"uri":"amqp://a","reconnect-delay-max":"soon"}""", "reconnect-delay-max: ")]
    [InlineData("""{"uri":"amqp://a","reconnect-delay-max":0}""", "reconnect-delay-max: '0' must be a number of seconds from 0.1 to")]
    [InlineData("""{"uri":"amqp://a","reconnect-delay":10,"reconnect-delay-max":5}""", "reconnect-delay-max: '5' must not be below reconnect-delay (10)")]
    public void Bad_values_are_rejected_naming_key_and_value(string json, string expected)
    {
        var e = Assert.Throws<FederationConfigurationException>(() => UpstreamDefinition.FromJson(json));

        var error = Assert.Single(e.Errors);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_set_element_with_a_bad_value_is_rejected_with_its_index()
    {
        var e = Assert.Throws<FederationConfigurationException>(() => UpstreamSetElement.ListFromJson("""[{"upstream":"origin","reconnect-backoff":"slow"}]"""));

        Assert.StartsWith("0:reconnect-backoff: 'slow' is not one of exponential, fixed", Assert.Single(e.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void An_undefined_enum_value_set_in_code_is_rejected()
    {
        var options = new FederationOptions { Downstream = { Uri = "memory://d/%2f" } };
        options.Upstreams["origin"] = new UpstreamDefinition { Uris = ["memory://u/%2f"], ReconnectBackoff = (ReconnectBackoffMode)9 };

        Assert.Contains("Upstreams:origin:reconnect-backoff: '9' is not one of exponential, fixed", FederationDefinitions.Validate(options));
    }
}
