using Federation.Core.Model;
using Xunit;

namespace Federation.Core.Tests.Model;

public class FederationPolicyJsonTests
{
    [Fact]
    public void A_policy_parses()
    {
        var policy = FederationPolicy.FromJson("""
            {"pattern":"^federated\\.","apply-to":"exchanges","priority":10,
             "definition":{"federation-upstream-set":"primary"}}
            """);

        Assert.Equal("^federated\\.", policy.Pattern);
        Assert.Equal("exchanges", policy.ApplyTo);
        Assert.Equal(10, policy.Priority);
        Assert.Equal("primary", policy.Definition.FederationUpstreamSet);
        Assert.Null(policy.Definition.FederationUpstream);
        Assert.Null(policy.Definition.FederationUpstreamPattern);
    }

    [Fact]
    public void Apply_to_and_priority_default_to_all_and_zero()
    {
        var policy = FederationPolicy.FromJson("""{"pattern":"^x","definition":{"federation-upstream":"origin"}}""");

        Assert.Equal("all", policy.ApplyTo);
        Assert.Equal(0, policy.Priority);
        Assert.Equal("origin", policy.Definition.FederationUpstream);
    }

    [Fact]
    public void A_definitions_export_entry_parses_and_its_name_and_vhost_are_ignored()
    {
        var policy = FederationPolicy.FromJson("""
            {"vhost":"/","name":"federate-me","pattern":"^amq\\.","apply-to":"exchanges",
             "definition":{"federation-upstream-pattern":"^eu-","max-length":1000,"overflow":"reject-publish"},"priority":1}
            """);

        Assert.Equal("^eu-", policy.Definition.FederationUpstreamPattern);
        Assert.Equal("1000", policy.Definition.OtherKeys["max-length"]);
        Assert.Equal("reject-publish", policy.Definition.OtherKeys["overflow"]);
    }

    [Fact]
    public void A_definition_without_federation_keys_is_valid()
    {
        var policy = FederationPolicy.FromJson("""{"pattern":".*","definition":{"alternate-exchange":"ae"}}""");

        Assert.Equal("ae", policy.Definition.OtherKeys["alternate-exchange"]);
    }

    [Theory]
    [InlineData("""{"federation-upstream":"a","federation-upstream-set":"b"}""")]
    [InlineData("""{"federation-upstream":"a","federation-upstream-pattern":"b"}""")]
    [InlineData("""{"federation-upstream-set":"a","federation-upstream-pattern":"b"}""")]
    [InlineData("""{"federation-upstream":"a","federation-upstream-set":"b","federation-upstream-pattern":"c"}""")]
    public void Two_federation_keys_are_rejected_with_the_plugin_message(string definition)
    {
        var e = Assert.Throws<FederationConfigurationException>(() => FederationPolicy.FromJson($$"""{"pattern":"x","definition":{{definition}}}"""));

        Assert.Equal(["definition: cannot specify federation-upstream, federation-upstream-set or federation-upstream-pattern together"], e.Errors);
    }

    [Theory]
    [InlineData("""{"definition":{}}""", "pattern: is mandatory")]
    [InlineData("""{"pattern":"(unclosed","definition":{}}""", "pattern: '(unclosed' is not a valid regular expression")]
    [InlineData("""{"pattern":"x","apply-to":"topics","definition":{}}""", "apply-to: 'topics' is not one of exchanges, queues, classic_queues, quorum_queues, streams, all")]
    [InlineData("""{"pattern":"x","priority":"high","definition":{}}""", "priority: 'high' is not an integer")]
    [InlineData("""{"pattern":"x","definition":{"federation-upstream":3}}""", "definition:federation-upstream: '3' is not a string")]
    [InlineData("""{"pattern":"x","definition":{"federation-upstream":""}}""", "definition:federation-upstream: '' does not name an upstream")]
    [InlineData("""{"pattern":"x","definition":{"federation-upstream-set":""}}""", "definition:federation-upstream-set: '' does not name an upstream set")]
    [InlineData("""{"pattern":"x","definition":{"federation-upstream-pattern":"[a-"}}""", "definition:federation-upstream-pattern: '[a-' is not a valid regular expression")]
    [InlineData("""{"pattern":"x","definition":{"federation-upstreams":"a"}}""", "definition:federation-upstreams: Unrecognised terms")]
    [InlineData("""{"pattern":"x","definition":"federation-upstream"}""", "definition: 'federation-upstream' is not an object")]
    [InlineData("""{"pattern":"x","definition":{},"colour":"red"}""", "colour: Unrecognised terms")]
    public void Bad_policies_are_rejected_naming_key_and_value(string json, string expectedError)
    {
        var e = Assert.Throws<FederationConfigurationException>(() => FederationPolicy.FromJson(json));

        Assert.Contains(e.Errors, error => error.StartsWith(expectedError, StringComparison.Ordinal));
    }
}
