using Federation.Core.Model;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.Model;

/// <summary>The engine keeps a link running when its resolved upstream is equal before and after a reconfiguration.</summary>
public class ResolvedUpstreamEqualityTests
{
    private const string Json = """
        {"uri":["amqp://a/%2f","amqp://b/%2f"],"exchange":"x","queue":"q","max-hops":2,"prefetch-count":10,
         "reconnect-delay":1,"reconnect-backoff":"fixed","reconnect-delay-max":30,"ack-mode":"on-publish","trust-user-id":true,"expires":1000,"message-ttl":10,
         "queue-type":"quorum","bind-nowait":true,"resource-cleanup-mode":"never","channel-use-mode":"multiple"}
        """;

    private static ResolvedUpstream Resolve(Action<UpstreamDefinition>? change = null, string name = "origin")
    {
        var upstream = UpstreamDefinition.FromJson(Json);
        change?.Invoke(upstream);
        return ResolvedUpstream.FromDefinition(name, upstream);
    }

    [Fact]
    public void The_same_configuration_resolves_equal()
    {
        Assert.Equal(Resolve(), Resolve());
        Assert.Equal(Resolve().GetHashCode(), Resolve().GetHashCode());
    }

    [Fact]
    public void The_same_options_resolve_every_exchange_equal()
    {
        static FederationOptions Options()
        {
            var options = new FederationOptions { Downstream = { Uri = "memory://london/%2f" } };
            options.Upstreams["origin"] = UpstreamDefinition.FromJson(Json);
            options.UpstreamSets["s"] = UpstreamSetElement.ListFromJson("""[{"upstream":"origin","exchange":"y"}]""");
            options.Policies["p"] = FederationPolicy.FromJson("""{"pattern":".","definition":{"federation-upstream-set":"s"}}""");
            return options;
        }

        var exchange = new ExchangeSpec("orders", ExchangeSpec.Types.Fanout);

        Assert.Equal(FederationDefinitions.Create(Options()).Resolve(exchange), FederationDefinitions.Create(Options()).Resolve(exchange));
    }

    public static TheoryData<string, Action<UpstreamDefinition>> Changes => new()
    {
        { "uri", u => u.Uris = ["amqp://a/%2f"] },
        { "uri order", u => u.Uris = ["amqp://b/%2f", "amqp://a/%2f"] },
        { "exchange", u => u.Exchange = null },
        { "queue", u => u.Queue = "other" },
        { "max-hops", u => u.MaxHops = 3 },
        { "prefetch-count", u => u.PrefetchCount = 11 },
        { "reconnect-delay", u => u.ReconnectDelaySeconds = 1.5 },
        { "reconnect-backoff", u => u.ReconnectBackoff = ReconnectBackoffMode.Exponential },
        { "reconnect-delay-max", u => u.ReconnectDelayMaxSeconds = 31 },
        { "ack-mode", u => u.AckMode = AckMode.OnConfirm },
        { "trust-user-id", u => u.TrustUserId = false },
        { "expires", u => u.Expires = null },
        { "message-ttl", u => u.MessageTtl = 11 },
        { "queue-type", u => u.QueueType = UpstreamQueueType.Classic },
        { "bind-nowait", u => u.BindNowait = false },
        { "resource-cleanup-mode", u => u.ResourceCleanupMode = ResourceCleanupMode.Default },
        { "channel-use-mode", u => u.ChannelUseMode = ChannelUseMode.Single },
        { "duplicate-suppression", u => u.DuplicateSuppression = false },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Any_changed_field_is_not_equal(string key, Action<UpstreamDefinition> change)
    {
        Assert.NotEqual(Resolve(), Resolve(change));
        Assert.False(Resolve().Equals(Resolve(change)), key);
    }

    [Fact]
    public void A_different_upstream_name_is_not_equal() => Assert.NotEqual(Resolve(), Resolve(name: "other"));

    [Fact]
    public void Consumer_tag_does_not_affect_exchange_links() => Assert.Equal(Resolve(), Resolve(u => u.ConsumerTag = "tag"));

    [Fact]
    public void Setting_a_value_to_its_default_explicitly_is_equal_to_leaving_it_unset()
    {
        var implicitDefaults = ResolvedUpstream.FromDefinition("o", UpstreamDefinition.FromJson("""{"uri":"amqp://a"}"""));
        var explicitDefaults = ResolvedUpstream.FromDefinition("o", UpstreamDefinition.FromJson(
            """{"uri":"amqp://a","max-hops":1,"prefetch-count":1000,"reconnect-delay":5,"ack-mode":"on-confirm"}"""));

        Assert.Equal(implicitDefaults, explicitDefaults);
    }

    [Fact]
    public void ToString_shows_no_credentials()
    {
        var resolved = ResolvedUpstream.FromDefinition("o", new UpstreamDefinition { Uris = [ModelTestData.OriginUri] });

        Assert.DoesNotContain(ModelTestData.Password, resolved.ToString(), StringComparison.Ordinal);
    }
}
