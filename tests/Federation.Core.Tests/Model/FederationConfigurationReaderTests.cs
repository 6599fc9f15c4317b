using Federation.Core.Model;
using Federation.Core.Transport;
using Xunit;
using static Federation.Core.Tests.Model.ModelTestData;

namespace Federation.Core.Tests.Model;

public class FederationConfigurationReaderTests
{
    private const string ContractExample = """
        {
          "ClusterName": "eu-west",
          "Downstream": { "uri": "memory://london/%2f" },
          "Upstreams": {
            "origin": {
              "uri": "amqp://user:pass@host:5672/%2f", "exchange": "upstream-x", "queue": "q", "consumer-tag": "t",
              "max-hops": 2, "prefetch-count": 10, "reconnect-delay": 0.5, "ack-mode": "on-publish",
              "trust-user-id": true, "expires": 1000, "message-ttl": 500, "queue-type": "quorum",
              "bind-nowait": true, "resource-cleanup-mode": "never", "channel-use-mode": "multiple",
              "reconnect-backoff": "fixed", "reconnect-delay-max": 20
            },
            "backup": { "uri": [ "amqp://b1/%2f", "amqp://b2/%2f" ] }
          },
          "UpstreamSets": { "primary": [ { "upstream": "origin", "exchange": "orders", "max-hops": 3 }, { "upstream": "backup" } ] },
          "Policies": {
            "exchange-federation": { "pattern": "^federated\\.", "apply-to": "exchanges", "priority": 10,
                                     "definition": { "federation-upstream-set": "primary", "max-length": 5 } }
          }
        }
        """;

    private static FederationOptions SameConfigurationInCode()
    {
        var options = new FederationOptions { ClusterName = "eu-west" };
        options.Downstream.Uri = "memory://london/%2f";
        options.Upstreams["origin"] = new UpstreamDefinition
        {
            Uris = ["amqp://user:pass@host:5672/%2f"], Exchange = "upstream-x", Queue = "q", ConsumerTag = "t",
            MaxHops = 2, PrefetchCount = 10, ReconnectDelaySeconds = 0.5, AckMode = AckMode.OnPublish,
            TrustUserId = true, Expires = 1000, MessageTtl = 500, QueueType = UpstreamQueueType.Quorum,
            BindNowait = true, ResourceCleanupMode = ResourceCleanupMode.Never, ChannelUseMode = ChannelUseMode.Multiple,
            ReconnectBackoff = ReconnectBackoffMode.Fixed, ReconnectDelayMaxSeconds = 20,
        };
        options.Upstreams["backup"] = new UpstreamDefinition { Uris = ["amqp://b1/%2f", "amqp://b2/%2f"] };
        options.UpstreamSets["primary"] =
        [
            new UpstreamSetElement { Upstream = "origin", Exchange = "orders", MaxHops = 3 },
            new UpstreamSetElement { Upstream = "backup" },
        ];
        options.Policies["exchange-federation"] = ExchangePolicy("^federated\\.", priority: 10, definition: d =>
        {
            d.FederationUpstreamSet = "primary";
            d.OtherKeys["max-length"] = "5";
        });
        return options;
    }

    [Fact]
    public void Configuration_binds_to_the_same_model_as_code()
    {
        var fromConfiguration = FederationDefinitions.Create(ReadConfiguration(ContractExample));
        var fromCode = FederationDefinitions.Create(SameConfigurationInCode());
        var exchange = new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic);

        Assert.Equal("eu-west", fromConfiguration.ClusterName);
        Assert.Equal("memory://london/%2f", fromConfiguration.DownstreamUri);
        Assert.Equal(fromCode.Upstreams, fromConfiguration.Upstreams);
        Assert.Equal(fromCode.Resolve(exchange), fromConfiguration.Resolve(exchange));
        Assert.Equal(2, fromConfiguration.Resolve(exchange).Upstreams.Count);
    }

    [Fact]
    public void Every_key_is_read_with_its_value()
    {
        var options = ReadConfiguration(ContractExample);

        Assert.Empty(options.ConfigurationErrors);
        var origin = options.Upstreams["origin"];
        Assert.Equal(
            (2, 10, 0.5, AckMode.OnPublish, true, 1000L, 500L, UpstreamQueueType.Quorum, true, ResourceCleanupMode.Never, ChannelUseMode.Multiple),
            (origin.MaxHops, origin.PrefetchCount, origin.ReconnectDelaySeconds, origin.AckMode, origin.TrustUserId, origin.Expires,
             origin.MessageTtl, origin.QueueType, origin.BindNowait, origin.ResourceCleanupMode, origin.ChannelUseMode));
        Assert.Equal(("upstream-x", "q", "t"), (origin.Exchange, origin.Queue, origin.ConsumerTag));
        Assert.Equal(["amqp://b1/%2f", "amqp://b2/%2f"], options.Upstreams["backup"].Uris);
        Assert.Equal("5", options.Policies["exchange-federation"].Definition.OtherKeys["max-length"]);
    }

    [Fact]
    public void Values_given_as_strings_are_parsed_invariantly()
    {
        var options = ReadConfiguration("""
            { "Upstreams": { "origin": { "uri": "amqp://a", "max-hops": "4", "reconnect-delay": "1.25", "trust-user-id": "false" } },
              "Policies": { "p": { "pattern": "x", "priority": "-2", "definition": {} } } }
            """);

        Assert.Empty(options.ConfigurationErrors);
        Assert.Equal((4, 1.25, false), (options.Upstreams["origin"].MaxHops, options.Upstreams["origin"].ReconnectDelaySeconds, options.Upstreams["origin"].TrustUserId));
        Assert.Equal(-2, options.Policies["p"].Priority);
    }

    [Fact]
    public void Keys_match_case_insensitively_and_definition_keys_are_spelled_canonically()
    {
        var options = ReadConfiguration("""
            { "upstreams": { "origin": { "URI": "amqp://a", "Max-Hops": 2 } },
              "policies": { "p": { "Pattern": "x", "Definition": { "Federation-Upstream": "origin", "MAX-LENGTH": 1 } } } }
            """);

        Assert.Empty(options.ConfigurationErrors);
        Assert.Equal(2, options.Upstreams["origin"].MaxHops);
        Assert.Equal("origin", options.Policies["p"].Definition.FederationUpstream);
        Assert.Equal(["max-length"], options.Policies["p"].Definition.OtherKeys.Keys);
    }

    [Theory]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "max-hops": "many" } } }""", "Upstreams:origin:max-hops: 'many' is not an integer")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "ack-mode": "sometimes" } } }""", "Upstreams:origin:ack-mode: 'sometimes' is not one of on-confirm, on-publish, no-ack")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "trust-user-id": "yes" } } }""", "Upstreams:origin:trust-user-id: 'yes' is not a boolean")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "reconnect-delay": "1,5" } } }""", "Upstreams:origin:reconnect-delay: '1,5' is not a number")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "maxhops": 1 } } }""", "Upstreams:origin:maxhops: Unrecognised terms: not a recognised key; did you mean 'max-hops'?")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "max_hops": 1 } } }""", "Upstreams:origin:max_hops: Unrecognised terms: not a recognised key; did you mean 'max-hops'?")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "prefech-count": 1 } } }""", "Upstreams:origin:prefech-count: Unrecognised terms: not a recognised key; did you mean 'prefetch-count'?")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": "amqp://a", "colour": "red" } } }""", "Upstreams:origin:colour: Unrecognised terms: not a recognised key")]
    [InlineData("""{ "Upstreams": { "origin": { "uri": { "host": "a" } } } }""", "Upstreams:origin:uri: a section is not a string or a list of strings")]
    [InlineData("""{ "Upstreams": { "origin": "amqp://a" } }""", "Upstreams:origin: 'amqp://a' is not an object")]
    [InlineData("""{ "UpstreamSets": { "s": [ { "upstream": "a", "uri": "amqp://a" } ] } }""", "UpstreamSets:s:0:uri: Unrecognised terms")]
    [InlineData("""{ "UpstreamSets": { "s": [ { "upstream": "a", "colour": "red" } ] } }""", "UpstreamSets:s:0:colour: Unrecognised terms: not a recognised key")]
    [InlineData("""{ "UpstreamSets": { "s": [ { "upstrem": "a" } ] } }""", "UpstreamSets:s:0:upstrem: Unrecognised terms: not a recognised key; did you mean 'upstream'?")]
    [InlineData("""{ "UpstreamSets": { "s": { "upstream": "a" } } }""", "UpstreamSets:s: a section is not a list of upstream set elements")]
    [InlineData("""{ "Policies": { "p": { "pattern": "x", "definition": { "colour": "red" } } } }""", "Policies:p:definition:colour: Unrecognised terms")]
    [InlineData("""{ "Policies": { "p": { "pattern": "x", "definition": { "federation_upstream_set": "all" } } } }""", "Policies:p:definition:federation_upstream_set: Unrecognised terms: not a recognised key; did you mean 'federation-upstream-set'?")]
    [InlineData("""{ "Policies": { "p": { "pattern": "x", "applyto": "exchanges" } } }""", "Policies:p:applyto: Unrecognised terms: not a recognised key; did you mean 'apply-to'?")]
    [InlineData("""{ "Policies": { "p": { "apply-to": "exchanges" } } }""", "Policies:p:pattern: is mandatory")]
    [InlineData("""{ "Policies": { "p": { "pattern": "x", "priority": "high" } } }""", "Policies:p:priority: 'high' is not an integer")]
    [InlineData("""{ "Policies": { "p": { "pattern": "x", "definition": { "federation-upstream": "a", "federation-upstream-pattern": "b" } } } }""",
        "Policies:p:definition: cannot specify federation-upstream, federation-upstream-set or federation-upstream-pattern together")]
    [InlineData("""{ "Downstream": { "uri": "london" } }""", "Downstream:uri: 'london' is not an absolute URI with a scheme")]
    [InlineData("""{ "Downstream": { "url": "memory://london" } }""", "Downstream:url: Unrecognised terms: not a recognised key; did you mean 'uri'?")]
    [InlineData("""{ "Downstream": "memory://london" }""", "Downstream: 'memory://london' is not a section")]
    public void Bad_values_are_recorded_not_thrown_and_reported_by_validation(string json, string expectedError)
    {
        var options = ReadConfiguration(json);

        var errors = FederationDefinitions.Validate(options);

        Assert.Contains(errors, error => error.StartsWith(expectedError, StringComparison.Ordinal));
        Assert.Throws<FederationConfigurationException>(() => FederationDefinitions.Create(options));
    }

    // Issue 9: mistakes that used to be silently ignored or silently wrong. Each must fail validation naming the key.
    [Theory]
    [InlineData("""{ "Downstream": { "uri": "memory://london" } }""", true)]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "SpreadLinks": false }""", false)]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "SpreadLinks": "true" }""", true)]
    public void Spreading_links_is_on_unless_turned_off(string json, bool expected)
    {
        var options = ReadConfiguration(json);

        Assert.Empty(FederationDefinitions.Validate(options));
        Assert.Equal(expected, options.SpreadLinks);
        Assert.Equal(expected, FederationDefinitions.Create(options).SpreadLinks);
    }

    [Theory]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Polices": { "p": { "pattern": "x", "definition": { "federation-upstream-set": "all" } } } }""",
        "Polices: Unrecognised terms: not a recognised key; the Federation section accepts ClusterName, InstanceName, Downstream, Upstreams, UpstreamSets, Policies")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstream": { "origin": { "uri": "amqp://a" } } }""", "Upstream: Unrecognised terms")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Polices": { "p": { "pattern": "x", "definition": { "federation-upstream-set": "all" } } } }""",
        "Polices: Unrecognised terms: not a recognised key; the Federation section accepts ClusterName, InstanceName, Downstream, Upstreams, UpstreamSets, Policies, SpreadLinks, Ownership; did you mean 'Policies'?")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Cluster_Name": "eu" }""", "Cluster_Name: Unrecognised terms: not a recognised key; the Federation section accepts ClusterName, InstanceName, Downstream, Upstreams, UpstreamSets, Policies, SpreadLinks, Ownership; did you mean 'ClusterName'?")]
    [InlineData("\"memory://london\"", "Federation: 'memory://london' is not a section")]
    [InlineData("""[ { "Downstream": { "uri": "memory://london" } } ]""", "Federation: is a list, not a section")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": [ { "uri": "amqp://a" } ] }""", "Upstreams: is a list, not a section of named entries")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "UpstreamSets": [ [ { "upstream": "a" } ] ] }""", "UpstreamSets: is a list, not a section of named entries")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Policies": [ { "pattern": "x" } ] }""", "Policies: is a list, not a section of named entries")]
    [InlineData("""{ "Downstream": [ "memory://london" ] }""", "Downstream: is a list, not a section")]
    [InlineData("""{ "Downstream": { "uri": { "host": "london" } } }""", "Downstream:uri: a section is not a string")]
    [InlineData("""{ "Downstream": { "uri": "" } }""", "Downstream:uri: a downstream broker URI is required")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "ClusterName": { "name": "eu" } }""", "ClusterName: a section is not a string")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "ClusterName": "" }""", "ClusterName: '' is blank")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "SpreadLinks": "maybe" }""", "SpreadLinks: 'maybe' is not a boolean (true or false)")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": [ "amqp://a" ] } }""", "Upstreams:origin: is a list, not an object")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "": { "uri": "amqp://a" } } }""", "Upstreams:: has a blank name")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": { "uri": "amqp://a", "exchange": "" } } }""", "Upstreams:origin:exchange: '' is empty")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": { "uri": "amqp://a", "prefetch-count": 0 } } }""", "Upstreams:origin:prefetch-count: '0' must be at least 1")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": { "uri": "amqp://a", "reconnect-delay": 0 } } }""", "Upstreams:origin:reconnect-delay: '0' must be a number of seconds from 0.1")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "UpstreamSets": { "s": [ [ "a" ] ] } }""", "UpstreamSets:s:0: is a list, not an object")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Policies": { "p": { "pattern": "x" } } }""", "Policies:p:definition: is mandatory but missing")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Policies": { "p": { "pattern": "x", "definition": {} } } }""", "Policies:p:definition: is empty")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Policies": { "p": { "pattern": "x", "definition": [ "all" ] } } }""", "Policies:p:definition: is a list, not an object")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "tokyo": { "uri": "amqp://t" } }, "Policies": { "p": { "pattern": "x", "definition": { "federation-upstream": "tokio" } } } }""",
        "Policies:p:definition:federation-upstream: 'tokio' names no defined upstream (defined: tokyo)")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "tokyo": { "uri": "amqp://t" } }, "UpstreamSets": { "s": [ { "upstream": "tokio" } ] } }""",
        "UpstreamSets:s:0:upstream: 'tokio' names no defined upstream (defined: tokyo)")]
    [InlineData("""{ "Downstream": { "uri": "memory://london" }, "Policies": { "p": { "pattern": "(x)\\1", "definition": { "federation-upstream-set": "all" } } } }""",
        "Policies:p:pattern: '(x)\\1' cannot be matched in linear time")]
    public void Mistakes_that_used_to_pass_silently_are_reported_naming_the_key(string json, string expectedError)
    {
        var options = ReadConfiguration(json);

        var errors = FederationDefinitions.Validate(options);

        Assert.True(errors.Any(e => e.StartsWith(expectedError, StringComparison.Ordinal)), $"expected '{expectedError}', got: {string.Join(" | ", errors)}");
        Assert.Throws<FederationConfigurationException>(() => FederationDefinitions.Create(options));
    }

    [Fact]
    public void A_reference_to_an_entry_that_could_not_be_read_is_not_reported_as_pointing_at_nothing()
    {
        var options = ReadConfiguration("""
            { "Downstream": { "uri": "memory://london" },
              "Upstreams": { "origin": { "uri": "amqp://a", "max-hops": "x" } },
              "Policies": { "p": { "pattern": "x", "definition": { "federation-upstream": "origin" } } } }
            """);

        Assert.Equal(["Upstreams:origin:max-hops: 'x' is not an integer"], FederationDefinitions.Validate(options));
    }

    [Fact]
    public void A_configuration_without_a_Federation_section_is_invalid_not_empty()
    {
        // A reload of "{}" (or of a file whose Federation section was dropped) must be refused, not applied.
        var options = new FederationOptions();
        FederationConfigurationReader.Read(FederationSection("{}"), options);

        Assert.Equal([FederationDefinitions.DownstreamRequired], FederationDefinitions.Validate(options));
    }

    [Fact]
    public void A_broken_entry_is_reported_once_with_its_other_mistakes()
    {
        var options = ReadConfiguration("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": { "uri": 5, "max-hops": "x" } } }""");

        var errors = FederationDefinitions.Validate(options);

        Assert.Equal(2, errors.Count);
        Assert.Equal("Upstreams:origin:max-hops: 'x' is not an integer", errors[0]);
        Assert.StartsWith("Upstreams:origin:uri: '5' is not an absolute URI", errors[1], StringComparison.Ordinal);
    }

    // One run reports every mistake: reading errors (unknown keys, wrong types) and range errors together, each naming its key.
    [Theory]
    [InlineData("""{ "uri": "amqp://a", "maxhops": 1, "prefetch-count": 0 }""", "Upstreams:origin:maxhops: Unrecognised terms", "Upstreams:origin:prefetch-count: '0' must be at least 1")]
    [InlineData("""{ "uri": "amqp://a", "max-hops": "many", "reconnect-delay": 0 }""", "Upstreams:origin:max-hops: 'many' is not an integer", "Upstreams:origin:reconnect-delay: '0' must be a number of seconds from 0.1")]
    public void Reading_and_range_errors_of_one_upstream_come_in_one_report(string upstream, string readingError, string rangeError)
    {
        var options = ReadConfiguration($$"""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": {{upstream}} } }""");

        var errors = FederationDefinitions.Validate(options);

        Assert.Contains(errors, e => e.StartsWith(readingError, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith(rangeError, StringComparison.Ordinal));
    }

    [Fact]
    public void Reading_and_range_errors_across_the_section_come_in_one_report()
    {
        var options = ReadConfiguration("""
            { "Downstream": { "uri": "memory://london" }, "Polices": {},
              "Upstreams": { "origin": { "uri": "amqp://a", "colour": "red" }, "backup": { "uri": "amqp://b", "prefetch-count": 0 } },
              "UpstreamSets": { "s": [ { "upstream": "origin", "colour": "blue", "max-hops": 0 } ] },
              "Policies": { "p": { "pattern": "(", "colour": "green", "definition": { "federation-upstream": "origin" } } } }
            """);

        var errors = FederationDefinitions.Validate(options);

        string[] expected =
        [
            "Polices: Unrecognised terms",
            "Upstreams:origin:colour: Unrecognised terms",
            "UpstreamSets:s:0:colour: Unrecognised terms",
            "Policies:p:colour: Unrecognised terms",
            "Upstreams:backup:prefetch-count: '0' must be at least 1",
            "UpstreamSets:s:0:max-hops: '0' must be at least 1",
            "Policies:p:pattern: '(' is not a valid regular expression",
        ];
        foreach (var error in expected)
        {
            Assert.True(errors.Any(e => e.StartsWith(error, StringComparison.Ordinal)), $"expected '{error}', got: {string.Join(" | ", errors)}");
        }

        Assert.DoesNotContain(errors, e => e.Contains("names no defined upstream", StringComparison.Ordinal)); // origin is defined, only broken
    }

    [Fact]
    public void An_entry_that_is_not_an_object_is_reported_once_not_again_for_its_missing_keys()
    {
        var options = ReadConfiguration("""
            { "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": "amqp://a" },
              "Policies": { "p": { "pattern": "x", "definition": { "federation-upstream": "origin" } } } }
            """);

        Assert.Equal(["Upstreams:origin: 'amqp://a' is not an object"], FederationDefinitions.Validate(options));
    }

    [Fact]
    public void Credentials_never_appear_in_configuration_errors()
    {
        var uri = OriginUri;
        var options = ReadConfiguration($$"""
            { "Downstream": { "uri": "{{uri}}", "password": "{{Password}}" },
              "Upstreams": {
                "origin": { "uri": "{{uri}}", "uris": "{{uri}}", "max-hops": "{{uri}}", "ack-mode": "{{uri}}" },
                "relative": { "uri": "user:{{Password}}@host" },
                "query": { "uri": "amqp://host/%2f?password={{Password}}", "prefetch-count": -1 }
              },
              "UpstreamSets": { "s": [ { "upstream": "origin", "uri": "{{uri}}" } ] }
            }
            """);

        var errors = FederationDefinitions.Validate(options);

        Assert.NotEmpty(errors);
        Assert.All(errors, error => Assert.DoesNotContain(Password, error, StringComparison.Ordinal));
    }

    [Fact]
    public void Reading_replaces_everything_so_a_reload_fully_reflects_the_new_configuration()
    {
        var options = ReadConfiguration(ContractExample);
        options.ConfigurationErrors.Add("stale");

        FederationConfigurationReader.Read(
            FederationSection("""{ "Federation": { "Upstreams": { "other": { "uri": "amqp://other" } } } }"""), options);

        Assert.Null(options.ClusterName);
        Assert.Null(options.Downstream.Uri);
        Assert.Equal(["other"], options.Upstreams.Keys);
        Assert.Empty(options.UpstreamSets);
        Assert.Empty(options.Policies);
        Assert.Empty(options.ConfigurationErrors);
    }

    [Fact]
    public void Empty_sets_and_upstream_objects_are_read()
    {
        var options = ReadConfiguration("""{ "Downstream": { "uri": "memory://london" }, "Upstreams": { "origin": {} }, "UpstreamSets": { "s": [] } }""");

        Assert.Equal([], options.ConfigurationErrors);
        Assert.Empty(options.UpstreamSets["s"]);
        Assert.Equal(["Upstreams:origin:uri: is mandatory but missing"], FederationDefinitions.Validate(options));
    }
}
