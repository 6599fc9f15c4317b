using Federation.Core.Model;
using Federation.Core.Transport;
using FsCheck.Xunit;
using Xunit;
using static Federation.Core.Tests.Model.ModelTestData;

namespace Federation.Core.Tests.Model;

public class FederationResolutionTests
{
    private static readonly ExchangeSpec Federated = new("federated.orders", ExchangeSpec.Types.Topic);
    private static readonly string[] PolicyNames = ["b", "a", "C", "a-2"];

    private static FederationOptions WithUpstreams(params string[] names)
    {
        var options = new FederationOptions { Downstream = { Uri = DownstreamUri } };
        foreach (var name in names)
        {
            options.Upstreams[name] = Upstream("amqp://" + name + "/%2f");
        }

        return options;
    }

    private static FederationResolution Resolve(FederationOptions options, ExchangeSpec? exchange = null) =>
        FederationDefinitions.Create(options).Resolve(exchange ?? Federated);

    private static string[] NamesOf(FederationResolution resolution) => [.. resolution.Upstreams.Select(u => u.UpstreamName)];

    [Fact]
    public void Federation_upstream_names_one_upstream()
    {
        var options = WithUpstreams("a", "b");
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstream = "b");

        var resolution = Resolve(options);

        Assert.Equal("p", resolution.PolicyName);
        Assert.Equal(["b"], NamesOf(resolution));
        Assert.Equal(["amqp://b/%2f"], resolution.Upstreams[0].Uris);
    }

    [Fact]
    public void An_undefined_upstream_is_refused_rather_than_federating_nothing()
    {
        // The plugin federates nothing until the upstream is defined; here the typo is an error, so that a reload can
        // never stop (and clean up) running links because of it.
        var options = WithUpstreams("a");
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstream = "missing");

        var e = Assert.Throws<FederationConfigurationException>(() => Resolve(options));

        Assert.Equal(["Policies:p:definition:federation-upstream: 'missing' names no defined upstream (defined: a)"], e.Errors);
    }

    [Fact]
    public void The_implicit_set_all_is_every_upstream_in_ordinal_name_order()
    {
        var options = WithUpstreams("b", "a", "C", "a2");
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamSet = "all");

        Assert.Equal(["C", "a", "a2", "b"], NamesOf(Resolve(options)));
    }

    [Fact]
    public void Federation_upstream_pattern_selects_upstreams_by_name()
    {
        var options = WithUpstreams("eu-2", "us-1", "eu-1");
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamPattern = "^eu-");

        Assert.Equal(["eu-1", "eu-2"], NamesOf(Resolve(options)));
    }

    [Fact]
    public void Set_elements_override_the_upstream_which_overrides_the_defaults()
    {
        var options = new FederationOptions { Downstream = { Uri = DownstreamUri } };
        options.Upstreams["origin"] = Upstream(configure: u => { u.MaxHops = 3; u.PrefetchCount = 10; u.Exchange = "from-upstream"; });
        options.UpstreamSets["s"] =
        [
            new UpstreamSetElement { Upstream = "origin", MaxHops = 5, AckMode = AckMode.NoAck },
            new UpstreamSetElement { Upstream = "origin", Exchange = "from-element" },
        ];
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamSet = "s");

        var upstreams = Resolve(options).Upstreams;

        Assert.Equal(2, upstreams.Count);
        Assert.Equal((5, 10, "from-upstream", AckMode.NoAck), (upstreams[0].MaxHops, upstreams[0].PrefetchCount, upstreams[0].Exchange, upstreams[0].AckMode));
        Assert.Equal((3, 10, "from-element", AckMode.OnConfirm), (upstreams[1].MaxHops, upstreams[1].PrefetchCount, upstreams[1].Exchange, upstreams[1].AckMode));
        Assert.Equal(TimeSpan.FromSeconds(5), upstreams[1].ReconnectDelay);
    }

    [Fact]
    public void Exchange_stays_null_when_no_exchange_key_is_given()
    {
        var options = WithUpstreams("origin");
        options.UpstreamSets["s"] = [new UpstreamSetElement { Upstream = "origin" }];
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamSet = "s");

        var upstream = Assert.Single(Resolve(options).Upstreams);

        Assert.Null(upstream.Exchange);
        Assert.Equal("federated.orders", upstream.UpstreamExchangeFor("federated.orders"));
    }

    [Fact]
    public void An_element_naming_an_undefined_upstream_is_refused_until_it_is_defined()
    {
        var options = WithUpstreams("a");
        options.UpstreamSets["s"] = [new UpstreamSetElement { Upstream = "a" }, new UpstreamSetElement { Upstream = "later" }];
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamSet = "s");

        var e = Assert.Throws<FederationConfigurationException>(() => Resolve(options));
        Assert.Equal(["UpstreamSets:s:1:upstream: 'later' names no defined upstream (defined: a)"], e.Errors);

        options.Upstreams["later"] = Upstream("amqp://later");

        Assert.Equal(["a", "later"], NamesOf(Resolve(options)));
    }

    [Fact]
    public void Exact_duplicate_elements_yield_one_link()
    {
        var options = WithUpstreams("a");
        options.Upstreams["a"].MaxHops = 2;
        options.UpstreamSets["s"] =
        [
            new UpstreamSetElement { Upstream = "a", Exchange = "x" },
            new UpstreamSetElement { Upstream = "a", Exchange = "x" },
            // Resolves to the same values as the first element, so it is the same link too.
            new UpstreamSetElement { Upstream = "a", Exchange = "x", MaxHops = 2 },
            new UpstreamSetElement { Upstream = "a", Exchange = "y" },
        ];
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamSet = "s");

        Assert.Equal(["x", "y"], Resolve(options).Upstreams.Select(u => u.Exchange));
        Assert.Equal(
            [new DuplicateSetElement("s", 1, 0, "a"), new DuplicateSetElement("s", 2, 0, "a")],
            FederationDefinitions.Create(options).DuplicateSetElements);
    }

    [Fact]
    public void An_undefined_set_is_refused_until_it_is_defined()
    {
        var options = WithUpstreams("a");
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamSet = "later");

        var e = Assert.Throws<FederationConfigurationException>(() => Resolve(options));
        options.UpstreamSets["later"] = [new UpstreamSetElement { Upstream = "a" }];

        Assert.Equal(["Policies:p:definition:federation-upstream-set: 'later' names no defined upstream set (defined: all)"], e.Errors);
        Assert.Equal(["a"], NamesOf(Resolve(options)));
    }

    [Fact]
    public void The_highest_priority_policy_wins_without_merging()
    {
        var options = WithUpstreams("a", "b");
        options.Policies["low"] = ExchangePolicy("^federated\\.", priority: 1, definition: d => d.FederationUpstream = "a");
        options.Policies["high"] = ExchangePolicy("orders$", priority: 5, definition: d => d.FederationUpstream = "b");

        var resolution = Resolve(options);

        Assert.Equal("high", resolution.PolicyName);
        Assert.Equal(["b"], NamesOf(resolution));
    }

    [Fact]
    public void A_higher_priority_policy_without_federation_keys_shadows_a_federation_policy()
    {
        var options = WithUpstreams("a");
        options.Policies["federate"] = ExchangePolicy("^federated\\.", priority: 0, definition: d => d.FederationUpstreamSet = "all");
        options.Policies["limits"] = ExchangePolicy(".*", priority: 10, applyTo: "all", definition: d => d.OtherKeys["max-length"] = "10");

        var resolution = Resolve(options);

        Assert.Equal("limits", resolution.PolicyName);
        Assert.Empty(resolution.Upstreams);
    }

    [Theory]
    [InlineData("queues")]
    [InlineData("classic_queues")]
    [InlineData("quorum_queues")]
    [InlineData("streams")]
    public void Policies_for_queues_do_not_federate_exchanges_nor_shadow_exchange_policies(string applyTo)
    {
        var options = WithUpstreams("a", "b");
        options.Policies["queues"] = ExchangePolicy(".*", priority: 100, applyTo: applyTo, definition: d => d.FederationUpstream = "b");
        options.Policies["exchanges"] = ExchangePolicy("^federated\\.", priority: 0, definition: d => d.FederationUpstream = "a");

        Assert.Equal(["a"], NamesOf(Resolve(options)));

        options.Policies.Remove("exchanges");

        Assert.Equal(FederationResolution.None, Resolve(options));
    }

    [Fact]
    public void Apply_to_all_federates_exchanges()
    {
        var options = WithUpstreams("a");
        options.Policies["p"] = ExchangePolicy("^federated\\.", applyTo: "all", definition: d => d.FederationUpstream = "a");

        Assert.Equal(["a"], NamesOf(Resolve(options)));
    }

    [Fact]
    public void The_default_exchange_and_internal_exchanges_are_never_federated()
    {
        var options = WithUpstreams("a");
        options.Policies["p"] = ExchangePolicy(".*", definition: d => d.FederationUpstreamSet = "all");
        var definitions = FederationDefinitions.Create(options);

        Assert.Equal(FederationResolution.None, definitions.Resolve(new ExchangeSpec("", ExchangeSpec.Types.Direct)));
        Assert.Equal(FederationResolution.None, definitions.Resolve(new ExchangeSpec("federated.internal", ExchangeSpec.Types.Topic, Internal: true)));
        Assert.Equal(["a"], NamesOf(definitions.Resolve(new ExchangeSpec("amq.topic", ExchangeSpec.Types.Topic))));
    }

    [Fact]
    public void An_exchange_no_policy_matches_is_not_federated()
    {
        var options = WithUpstreams("a");
        options.Policies["p"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstream = "a");

        Assert.Equal(FederationResolution.None, Resolve(options, new ExchangeSpec("local.orders", ExchangeSpec.Types.Topic)));
    }

    [Fact]
    public void Patterns_match_anywhere_unless_anchored()
    {
        var options = WithUpstreams("a");
        options.Policies["p"] = ExchangePolicy("orders", definition: d => d.FederationUpstream = "a");

        Assert.Equal("p", Resolve(options, new ExchangeSpec("eu.orders.v2", ExchangeSpec.Types.Topic)).PolicyName);
    }

    [Property]
    public bool Equal_priorities_are_broken_by_ordinal_policy_name_whatever_the_insertion_order(int seed)
    {
        var random = new Random(seed);
        var names = PolicyNames.OrderBy(_ => random.Next()).ToList();
        var options = WithUpstreams(names.ToArray());
        foreach (var name in names)
        {
            options.Policies[name] = ExchangePolicy("^federated\\.", priority: 3, definition: d => d.FederationUpstream = name);
        }

        return Resolve(options) == new FederationResolution("C", [FederationDefinitions.Create(options).Upstreams["C"]]);
    }
}
