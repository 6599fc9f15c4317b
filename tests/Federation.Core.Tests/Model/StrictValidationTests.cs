using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Transport;
using Xunit;
using static Federation.Core.Tests.Model.ModelTestData;

namespace Federation.Core.Tests.Model;

/// <summary>
/// The rules a whole configuration must pass, at start and on every reload alike (issue 9): everything that used to be
/// accepted and then silently federated nothing, federated wrongly, or looped.
/// </summary>
public class StrictValidationTests
{
    private const string Tokyo = "amqp://fed:" + Password + "@tokyo.example:5672/%2f";

    /// <summary>The transports of a typical host: in-memory plus stand-ins for AMQP and NATS that accept every URI.</summary>
    private static readonly TransportResolver Transports =
        new([new InMemoryTransport(new InMemoryBrokerRegistry()), new AcceptingTransport("amqp", "amqps"), new AcceptingTransport("nats")]);

    /// <summary>Valid options: a downstream, two upstreams on different brokers, a set and a policy.</summary>
    private static FederationOptions Valid()
    {
        var options = new FederationOptions { ClusterName = "london", Downstream = { Uri = DownstreamUri } };
        options.Upstreams["origin"] = Upstream();
        options.Upstreams["tokyo"] = Upstream(Tokyo);
        options.UpstreamSets["primary"] = [new UpstreamSetElement { Upstream = "origin", Exchange = "orders" }];
        options.Policies["federate"] = ExchangePolicy("^federated\\.", definition: d => d.FederationUpstreamSet = "all");
        return options;
    }

    [Fact]
    public void The_valid_options_have_no_errors_with_or_without_transports()
    {
        Assert.Empty(FederationDefinitions.Validate(Valid()));
        Assert.Empty(FederationDefinitions.Validate(Valid(), Transports));
    }

    public static TheoryData<string, Action<FederationOptions>, string> BadOptions => new()
    {
        // The downstream is required: without it a reload would disconnect it and stop every link.
        { "no downstream", o => o.Downstream.Uri = null, "Downstream:uri: a downstream broker URI is required" },
        { "blank downstream", o => o.Downstream.Uri = " ", "Downstream:uri: a downstream broker URI is required; ' ' is blank" },
        { "null downstream", o => o.Downstream = null!, "Downstream: is null" },
        { "empty ClusterName", o => o.ClusterName = "", "ClusterName: '' is blank; leave it unset" },

        // Empty names and empty strings.
        { "upstream named ''", o => o.Upstreams[""] = Upstream(), "Upstreams:: has a blank name" },
        { "set named ''", o => o.UpstreamSets[""] = [], "UpstreamSets:: has a blank name" },
        { "policy named ''", o => o.Policies[""] = ExchangePolicy("x", definition: d => d.FederationUpstream = "origin"), "Policies:: has a blank name" },
        { "exchange ''", o => o.Upstreams["origin"].Exchange = "", "Upstreams:origin:exchange: '' is empty (the default exchange cannot be federated)" },
        { "element exchange ''", o => o.UpstreamSets["primary"][0].Exchange = "", "UpstreamSets:primary:0:exchange: '' is empty" },

        // Ranges that used to mean something surprising.
        { "prefetch 0", o => o.Upstreams["origin"].PrefetchCount = 0, "Upstreams:origin:prefetch-count: '0' must be at least 1" },
        { "element prefetch 0", o => o.UpstreamSets["primary"][0].PrefetchCount = 0, "UpstreamSets:primary:0:prefetch-count: '0' must be at least 1" },
        { "reconnect-delay 0", o => o.Upstreams["origin"].ReconnectDelaySeconds = 0, "Upstreams:origin:reconnect-delay: '0' must be a number of seconds from 0.1 to" },
        { "reconnect-delay 0.05", o => o.Upstreams["origin"].ReconnectDelaySeconds = 0.05, "Upstreams:origin:reconnect-delay: '0.05' must be a number of seconds from 0.1 to" },
        { "element reconnect-delay 0", o => o.UpstreamSets["primary"][0].ReconnectDelaySeconds = 0, "UpstreamSets:primary:0:reconnect-delay: '0' must be a number of seconds from 0.1 to" },

        // References that point at nothing.
        { "policy naming a missing upstream", o => o.Policies["federate"] = ExchangePolicy("x", definition: d => d.FederationUpstream = "tokio"),
            "Policies:federate:definition:federation-upstream: 'tokio' names no defined upstream (defined: origin, tokyo)" },
        { "policy naming a missing set", o => o.Policies["federate"] = ExchangePolicy("x", definition: d => d.FederationUpstreamSet = "primry"),
            "Policies:federate:definition:federation-upstream-set: 'primry' names no defined upstream set (defined: all, primary)" },
        { "policy naming an upstream in the wrong case", o => o.Policies["federate"] = ExchangePolicy("x", definition: d => d.FederationUpstream = "Origin"),
            "Policies:federate:definition:federation-upstream: 'Origin' names no defined upstream" },
        { "upstream pattern matching nothing", o => o.Policies["federate"] = ExchangePolicy("x", definition: d => d.FederationUpstreamPattern = "^eu-"),
            "Policies:federate:definition:federation-upstream-pattern: '^eu-' matches no defined upstream (defined: origin, tokyo)" },
        { "set element naming a missing upstream", o => o.UpstreamSets["primary"].Add(new UpstreamSetElement { Upstream = "ghost" }),
            "UpstreamSets:primary:1:upstream: 'ghost' names no defined upstream (defined: origin, tokyo)" },
        { "every upstream removed under a policy naming one", o => { o.Upstreams.Clear(); o.UpstreamSets.Clear(); o.Policies["federate"].Definition = new() { FederationUpstream = "origin" }; },
            "Policies:federate:definition:federation-upstream: 'origin' names no defined upstream (none is defined)" },
        { "policy without definition", o => o.Policies["federate"] = new FederationPolicy { Pattern = "x" },
            "Policies:federate:definition: is empty; give one of federation-upstream, federation-upstream-set or federation-upstream-pattern" },

        // Patterns that only a backtracking engine can run.
        { "backreference", o => o.Policies["federate"].Pattern = "(a)\\1", "Policies:federate:pattern: '(a)\\1' cannot be matched in linear time" },
        { "lookahead", o => o.Policies["federate"].Pattern = "^(?=fed)", "Policies:federate:pattern: '^(?=fed)' cannot be matched in linear time" },
        { "lookbehind", o => o.Policies["federate"].Pattern = "(?<!x)orders", "Policies:federate:pattern: '(?<!x)orders' cannot be matched in linear time" },
        { "atomic group", o => o.Policies["federate"].Pattern = "(?>a+)b", "Policies:federate:pattern: '(?>a+)b' cannot be matched in linear time" },
        { "conditional", o => o.Policies["federate"].Pattern = "(a)?(?(1)b|c)", "Policies:federate:pattern: '(a)?(?(1)b|c)' cannot be matched in linear time" },
        { "upstream pattern with a lookahead", o => o.Policies["federate"] = ExchangePolicy("x", definition: d => d.FederationUpstreamPattern = "(?=o)"),
            "Policies:federate:definition:federation-upstream-pattern: '(?=o)' cannot be matched in linear time" },
        { "invalid pattern", o => o.Policies["federate"].Pattern = "[a-", "Policies:federate:pattern: '[a-' is not a valid regular expression" },

        // Upstream elements of one policy that would share one upstream queue.
        { "two upstreams with the same URI", o => o.Upstreams["copy"] = Upstream(),
            "Upstreams:origin: upstream 'origin' would share one upstream queue and internal exchange with Upstreams:copy (upstream 'copy') under Policies:federate: both reach 'amqp://origin.example:5672/%2f' with the same upstream exchange (the federated exchange's name)" },
        { "the same broker with other credentials and query", o => o.Upstreams["copy"] = Upstream("amqp://other:pw@ORIGIN.example:5672/%2F?heartbeat=5"),
            "Upstreams:origin: upstream 'origin' would share one upstream queue and internal exchange with Upstreams:copy (upstream 'copy')" },
        { "one URI in common among several", o => o.Upstreams["copy"] = Upstream(configure: u => u.Uris = ["amqp://elsewhere/%2f", OriginUri]),
            "Upstreams:origin: upstream 'origin' would share one upstream queue and internal exchange with Upstreams:copy (upstream 'copy')" },
        { "two upstreams with the same exchange", o => { o.Upstreams["copy"] = Upstream(configure: u => u.Exchange = "x"); o.Upstreams["origin"].Exchange = "x"; },
            "Upstreams:origin: upstream 'origin' would share one upstream queue and internal exchange with Upstreams:copy (upstream 'copy') under Policies:federate: both reach 'amqp://origin.example:5672/%2f' with the same upstream exchange 'x'" },
        { "two set elements of one upstream", o => { o.UpstreamSets["primary"].Add(new UpstreamSetElement { Upstream = "origin", Exchange = "orders", MaxHops = 2 }); o.Policies["federate"].Definition = new() { FederationUpstreamSet = "primary" }; },
            "UpstreamSets:primary:1: upstream 'origin' would share one upstream queue and internal exchange with UpstreamSets:primary:0 (upstream 'origin') under Policies:federate" },
        { "two upstreams picked by a pattern", o => { o.Upstreams["origin-2"] = Upstream(); o.Policies["federate"].Definition = new() { FederationUpstreamPattern = "^origin" }; },
            "Upstreams:origin-2: upstream 'origin-2' would share one upstream queue and internal exchange with Upstreams:origin (upstream 'origin') under Policies:federate" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Each_rule_is_an_error_naming_the_key_and_the_value(string rule, Action<FederationOptions> breakIt, string expectedError)
    {
        var options = Valid();
        breakIt(options);

        var errors = FederationDefinitions.Validate(options, Transports);

        Assert.True(errors.Any(e => e.StartsWith(expectedError, StringComparison.Ordinal)), $"{rule}: expected '{expectedError}', got: {string.Join(" | ", errors)}");
        Assert.All(errors, error => Assert.DoesNotContain(Password, error, StringComparison.Ordinal));
        Assert.Throws<FederationConfigurationException>(() => FederationDefinitions.Create(options, Transports));
    }

    public static TheoryData<string, Action<FederationOptions>> GoodOptions => new()
    {
        { "set all with no upstream defined", o => { o.Upstreams.Clear(); o.UpstreamSets.Clear(); } },
        { "a policy with other keys only shadows on purpose", o => o.Policies["limits"] = ExchangePolicy(".*", priority: 9, definition: d => d.OtherKeys["max-length"] = "5") },
        { "an empty set", o => { o.UpstreamSets["empty"] = []; o.Policies["federate"].Definition = new() { FederationUpstreamSet = "empty" }; } },
        { "one broker, two exchanges", o => o.Upstreams["copy"] = Upstream(configure: u => u.Exchange = "other") },
        { "one host, two vhosts", o => o.Upstreams["copy"] = Upstream("amqp://fed:pw@origin.example:5672/staging") },
        { "one host, two ports", o => o.Upstreams["copy"] = Upstream("amqp://fed:pw@origin.example:5673/%2f") },
        { "the same broker under two policies", o => { o.Upstreams["copy"] = Upstream(); o.Policies["federate"].Definition = new() { FederationUpstream = "origin" }; o.Policies["other"] = ExchangePolicy("^other\\.", definition: d => d.FederationUpstream = "copy"); } },
        { "the same broker in a queue policy", o => { o.Upstreams["copy"] = Upstream(); o.Policies["federate"] = ExchangePolicy(".*", applyTo: "queues", definition: d => d.FederationUpstreamSet = "all"); } },
        { "exact duplicate set elements (one link)", o => { o.UpstreamSets["primary"].Add(new UpstreamSetElement { Upstream = "origin", Exchange = "orders" }); o.Policies["federate"].Definition = new() { FederationUpstreamSet = "primary" }; } },
        { "linear-time pattern features", o => o.Policies["federate"].Pattern = "(?i)^(federated|fed)\\.[a-z0-9_-]{1,64}(\\.v\\d+)?$" },
        { "reconnect-delay at the minimum", o => o.Upstreams["origin"].ReconnectDelaySeconds = 0.1 },
        { "prefetch-count 1", o => o.Upstreams["origin"].PrefetchCount = 1 },
    };

    [Theory]
    [MemberData(nameof(GoodOptions))]
    public void What_is_deliberate_stays_valid(string rule, Action<FederationOptions> change)
    {
        var options = Valid();
        change(options);

        Assert.True(FederationDefinitions.Validate(options, Transports) is [], $"{rule}: {string.Join(" | ", FederationDefinitions.Validate(options, Transports))}");
    }

    [Theory]
    [InlineData("foo://host", "Upstreams:origin:uri: 'foo://host' has no registered transport (registered: amqp, amqps, memory, nats)")]
    [InlineData("foo://user:" + Password + "@host", "Upstreams:origin:uri: 'foo://host' has no registered transport")]
    [InlineData("memory://U/%2f?heartbeat=5", "Upstreams:origin:uri: 'memory://U/%2f?heartbeat=5' has the query key 'heartbeat', which memory:// URIs do not understand (they accept none)")]
    [InlineData("memory:///%2f", "Upstreams:origin:uri: 'memory:///%2f' has no broker name")]
    public void Upstream_uris_are_checked_by_the_registered_transports(string uri, string expectedError)
    {
        var options = Valid();
        options.Upstreams["origin"] = Upstream(uri);

        var errors = FederationDefinitions.Validate(options, Transports);

        Assert.Contains(errors, e => e.StartsWith(expectedError, StringComparison.Ordinal));
        Assert.All(errors, error => Assert.DoesNotContain(Password, error, StringComparison.Ordinal));
    }

    [Fact]
    public void The_downstream_uri_is_checked_by_the_registered_transports()
    {
        var options = Valid();
        options.Downstream.Uri = "mem://london/%2f";

        Assert.Equal(
            ["Downstream:uri: 'mem://london/%2f' has no registered transport (registered: amqp, amqps, memory, nats)"],
            FederationDefinitions.Validate(options, Transports));
    }

    [Fact]
    public void Many_upstreams_on_one_broker_make_one_error_each_not_one_per_pair()
    {
        // A template that gave every upstream one URI: one error per pair (19,900 for 200 upstreams) grew as n(n-1)/2, and
        // 3,000 such upstreams ran 'validate' out of memory (black-box run); a reload runs the same check in the host.
        const int Count = 200;
        var options = Valid();
        options.Upstreams.Remove("tokyo");
        for (var i = 1; i < Count; i++)
        {
            options.Upstreams[$"origin-{i:D3}"] = Upstream();
        }

        var errors = FederationDefinitions.Validate(options, Transports);

        Assert.Equal(Count - 1, errors.Count);
        Assert.All(errors, e => Assert.Contains("would share one upstream queue and internal exchange with Upstreams:origin (upstream 'origin')", e, StringComparison.Ordinal));
        Assert.Equal(Count - 1, errors.Select(e => e[..e.IndexOf(": ", StringComparison.Ordinal)]).Distinct().Count());
    }

    [Fact]
    public void Every_error_is_listed_at_once()
    {
        var options = Valid();
        options.Downstream.Uri = null;
        options.Upstreams["origin"].PrefetchCount = 0;
        options.Upstreams["tokyo"].Uris = ["foo://tokyo"];
        options.Policies["federate"] = ExchangePolicy("(a)\\1", definition: d => d.FederationUpstream = "tokio");

        var e = Assert.Throws<FederationConfigurationException>(() => FederationDefinitions.Create(options, Transports));

        Assert.Equal(5, e.Errors.Count);
        Assert.Equal(
            ["Downstream:uri", "Upstreams:origin:prefetch-count", "Upstreams:tokyo:uri", "Policies:federate:pattern", "Policies:federate:definition:federation-upstream"],
            e.Errors.Select(error => error[..error.IndexOf(": ", StringComparison.Ordinal)]));
    }

    [Fact]
    public void Upstreams_that_would_share_a_queue_are_listed_with_mistakes_elsewhere()
    {
        // The check needs every upstream, set and policy to be valid, not the rest: a black-box run of 'validate' saw a
        // wrong Ownership value, or a downstream URI, hide it until that was fixed, though the README promises every
        // problem at once.
        var options = Valid();
        options.Upstreams["copy"] = Upstream();
        options.Downstream.Uri = "mem://london/%2f";
        options.Ownership.PresenceTimeout = TimeSpan.FromSeconds(1);

        var errors = FederationDefinitions.Validate(options, Transports);

        Assert.Equal(
            ["Ownership:PresenceTimeout", "Downstream:uri", "Upstreams:origin"],
            errors.Select(error => error[..error.IndexOf(": ", StringComparison.Ordinal)]));
    }

    [Fact]
    public void A_pattern_that_would_backtrack_catastrophically_matches_in_linear_time_and_never_counts_as_a_non_match()
    {
        // With a backtracking engine, every start position costs 2^n steps in "(a+)+$" before "x$" is tried: the match
        // timed out and silently counted as no match, so the lower-priority policy applied instead.
        var options = Valid();
        options.Policies["evil"] = ExchangePolicy("(a+)+$|x$", priority: 10, definition: d => d.FederationUpstream = "tokyo");
        var definitions = FederationDefinitions.Create(options, Transports);

        var resolution = definitions.Resolve(new ExchangeSpec("federated." + new string('a', 5000) + "!x", ExchangeSpec.Types.Topic));

        Assert.Equal("evil", resolution.PolicyName);
        Assert.Equal(["tokyo"], resolution.Upstreams.Select(u => u.UpstreamName));
    }

    /// <summary>A transport that serves schemes and accepts every URI, for validation tests.</summary>
    private sealed class AcceptingTransport(params string[] schemes) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => schemes;

        public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
