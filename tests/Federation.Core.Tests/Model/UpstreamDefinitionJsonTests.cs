using Federation.Core.Model;
using Xunit;
using static Federation.Core.Tests.Model.ModelTestData;

namespace Federation.Core.Tests.Model;

public class UpstreamDefinitionJsonTests
{
    [Fact]
    public void Every_key_parses()
    {
        var upstream = UpstreamDefinition.FromJson("""
            {
              "uri": "amqp://origin/%2f",
              "exchange": "upstream-x",
              "queue": "upstream-q",
              "consumer-tag": "tag",
              "max-hops": 3,
              "prefetch-count": 50,
              "reconnect-delay": 2.5,
              "ack-mode": "on-publish",
              "trust-user-id": true,
              "expires": 60000,
              "message-ttl": 0,
              "queue-type": "quorum",
              "bind-nowait": true,
              "resource-cleanup-mode": "never",
              "channel-use-mode": "multiple",
              "duplicate-suppression": false
            }
            """);

        Assert.Equal(["amqp://origin/%2f"], upstream.Uris);
        Assert.Equal("upstream-x", upstream.Exchange);
        Assert.Equal("upstream-q", upstream.Queue);
        Assert.Equal("tag", upstream.ConsumerTag);
        Assert.Equal(3, upstream.MaxHops);
        Assert.Equal(50, upstream.PrefetchCount);
        Assert.Equal(2.5, upstream.ReconnectDelaySeconds);
        Assert.Equal(AckMode.OnPublish, upstream.AckMode);
        Assert.True(upstream.TrustUserId);
        Assert.Equal(60000, upstream.Expires);
        Assert.Equal(0, upstream.MessageTtl);
        Assert.Equal(UpstreamQueueType.Quorum, upstream.QueueType);
        Assert.True(upstream.BindNowait);
        Assert.Equal(ResourceCleanupMode.Never, upstream.ResourceCleanupMode);
        Assert.Equal(ChannelUseMode.Multiple, upstream.ChannelUseMode);
        Assert.False(upstream.DuplicateSuppression);
    }

    [Theory]
    [InlineData("ack-mode", "\"on-confirm\"", AckMode.OnConfirm)]
    [InlineData("ack-mode", "\"no-ack\"", AckMode.NoAck)]
    [InlineData("queue-type", "\"classic\"", UpstreamQueueType.Classic)]
    [InlineData("resource-cleanup-mode", "\"default\"", ResourceCleanupMode.Default)]
    [InlineData("channel-use-mode", "\"multiple\"", ChannelUseMode.Multiple)]
    public void Every_keyword_parses(string key, string json, object expected)
    {
        var upstream = UpstreamDefinition.FromJson($$"""{"uri":"amqp://origin","{{key}}":{{json}}}""");

        object? actual = key switch
        {
            "ack-mode" => upstream.AckMode,
            "queue-type" => upstream.QueueType,
            "resource-cleanup-mode" => upstream.ResourceCleanupMode,
            _ => upstream.ChannelUseMode,
        };
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Unset_keys_resolve_to_the_plugin_defaults()
    {
        var upstream = UpstreamDefinition.FromJson("""{"uri":"amqp://origin"}""");

        var resolved = ResolvedUpstream.FromDefinition("origin", upstream);

        Assert.Null(resolved.Exchange);
        Assert.Null(resolved.Queue);
        Assert.Equal(1, resolved.MaxHops);
        Assert.Equal(1000, resolved.PrefetchCount);
        Assert.Equal(TimeSpan.FromSeconds(5), resolved.ReconnectDelay);
        Assert.Equal(AckMode.OnConfirm, resolved.AckMode);
        Assert.False(resolved.TrustUserId);
        Assert.Null(resolved.Expires);
        Assert.Null(resolved.MessageTtl);
        Assert.Equal(UpstreamQueueType.Classic, resolved.QueueType);
        Assert.False(resolved.BindNowait);
        Assert.Equal(ResourceCleanupMode.Default, resolved.ResourceCleanupMode);
        Assert.Equal(ChannelUseMode.Multiple, resolved.ChannelUseMode);
        Assert.Equal("orders", resolved.UpstreamExchangeFor("orders"));
    }

    [Fact]
    public void Uri_may_be_a_string_or_a_list()
    {
        Assert.Equal(["amqp://a"], UpstreamDefinition.FromJson("""{"uri":"amqp://a"}""").Uris);
        Assert.Equal(["amqp://a", "amqp://b"], UpstreamDefinition.FromJson("""{"uri":["amqp://a","amqp://b"]}""").Uris);
    }

    [Fact]
    public void Any_scheme_is_accepted_because_transports_decide()
    {
        Assert.Equal(["nats://hub:4222", "memory://london/%2f"], UpstreamDefinition.FromJson("""{"uri":["nats://hub:4222","memory://london/%2f"]}""").Uris);
    }

    [Theory]
    [InlineData("""{"max-hops":1}""", "uri: is mandatory")]
    [InlineData("""{"uri":[]}""", "uri: is mandatory")]
    [InlineData("""{"uri":"not a uri"}""", "uri: 'not a uri' is not an absolute URI")]
    [InlineData("""{"uri":"/just/a/path"}""", "uri: '/just/a/path' is not an absolute URI")]
    [InlineData("""{"uri":["amqp://a","nope"]}""", "uri:1: 'nope' is not an absolute URI")]
    [InlineData("""{"uri":5}""", "uri: '5' is not a string or a list of strings")]
    [InlineData("""{"uri":["amqp://a",5]}""", "uri:1: '5' is not a string")]
    [InlineData("""{"uri":"amqp://a","max-hops":0}""", "max-hops: '0' must be at least 1")]
    [InlineData("""{"uri":"amqp://a","max-hops":"2"}""", "max-hops: '2' is not an integer")]
    [InlineData("""{"uri":"amqp://a","max-hops":1.5}""", "max-hops: '1.5' is not an integer")]
    [InlineData("""{"uri":"amqp://a","max-hops":99999999999}""", "max-hops: '99999999999' is out of range")]
    [InlineData("""{"uri":"amqp://a","prefetch-count":-1}""", "prefetch-count: '-1' must be at least 1")]
    [InlineData("""{"uri":"amqp://a","reconnect-delay":-0.5}""", "reconnect-delay: '-0.5' must be a number of seconds")]
    [InlineData("""{"uri":"amqp://a","reconnect-delay":"5"}""", "reconnect-delay: '5' is not a number")]
    [InlineData("""{"uri":"amqp://a","ack-mode":"sometimes"}""", "ack-mode: 'sometimes' is not one of on-confirm, on-publish, no-ack")]
    [InlineData("""{"uri":"amqp://a","ack-mode":1}""", "ack-mode: '1' is not one of on-confirm, on-publish, no-ack")]
    [InlineData("""{"uri":"amqp://a","trust-user-id":"true"}""", "trust-user-id: 'true' is not a boolean")]
    [InlineData("""{"uri":"amqp://a","expires":0}""", "expires: '0' must be a positive number of milliseconds")]
    [InlineData("""{"uri":"amqp://a","message-ttl":-1}""", "message-ttl: '-1' must be a number of milliseconds from 0 to 4294967295")]
    [InlineData("""{"uri":"amqp://a","queue-type":"stream"}""", "queue-type: 'stream' is not one of classic, quorum")]
    [InlineData("""{"uri":"amqp://a","bind-nowait":null}""", "bind-nowait: 'null' is not a boolean")]
    [InlineData("""{"uri":"amqp://a","duplicate-suppression":"off"}""", "duplicate-suppression: 'off' is not a boolean")]
    [InlineData("""{"uri":"amqp://a","resource-cleanup-mode":"always"}""", "resource-cleanup-mode: 'always' is not one of default, never")]
    [InlineData("""{"uri":"amqp://a","channel-use-mode":"dual"}""", "channel-use-mode: 'dual' is not one of multiple, single")]
    [InlineData("""{"uri":"amqp://a","channel-use-mode":"single"}""", "channel-use-mode: 'single' is not supported: a link always sends binding commands on a channel of its own")]
    [InlineData("""{"uri":"amqp://a","exchange":7}""", "exchange: '7' is not a string")]
    [InlineData("""{"uri":"amqp://a","max_hops":2}""", "max_hops: Unrecognised terms")]
    [InlineData("""{"uri":"amqp://a","Max-Hops":2}""", "Max-Hops: Unrecognised terms")]
    [InlineData("""{"uri":"amqp://a","max-hops":1,"max-hops":2}""", "max-hops: is given more than once")]
    [InlineData("""["amqp://a"]""", "a JSON array is not an object")]
    public void Bad_values_are_rejected_naming_key_and_value(string json, string expectedError)
    {
        var e = Assert.Throws<FederationConfigurationException>(() => UpstreamDefinition.FromJson(json));

        Assert.Contains(e.Errors, error => error.StartsWith(expectedError, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_error_is_reported_at_once()
    {
        var e = Assert.Throws<FederationConfigurationException>(
            () => UpstreamDefinition.FromJson("""{"uri":"amqp://a","ack-mode":"x","queue-type":"y","bogus":1}"""));

        Assert.Equal(3, e.Errors.Count);
    }

    [Theory]
    [InlineData("""{"uri":"amqp://u:PASSWORD@host","max-hops":0}""")]
    [InlineData("""{"uri":"u:PASSWORD@host"}""")]
    [InlineData("""{"uri":["amqp://u:PASSWORD@host", 3]}""")]
    [InlineData("""{"uris":"amqp://u:PASSWORD@host"}""")]
    [InlineData("""{"uri":"amqp://u:PASSWORD@host", "exchange": ["amqp://u:PASSWORD@host"]}""")]
    [InlineData("""{"uri":"amqp://u:PASSWORD@host" "max-hops":1}""")]
    [InlineData("""{"uri":"amqp://host?password=PASSWORD", "queue-type": "amqp://u:PASSWORD@x"}""")]
    public void Errors_never_contain_credentials(string json)
    {
        var e = Assert.Throws<FederationConfigurationException>(() => UpstreamDefinition.FromJson(json.Replace("PASSWORD", Password, StringComparison.Ordinal)));

        Assert.DoesNotContain(Password, e.Message, StringComparison.Ordinal);
        Assert.All(e.Errors, error => Assert.DoesNotContain(Password, error, StringComparison.Ordinal));
    }
}
