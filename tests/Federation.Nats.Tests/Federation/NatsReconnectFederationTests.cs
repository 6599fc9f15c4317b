using System.Text;
using Federation.Core.Hops;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Federation;

/// <summary>The upstream nats-server is killed and restarted on the same port: the link recovers and forwards again.</summary>
public sealed class NatsReconnectFederationTests() : NatsFederationTestbed("news", "reconnect-up", "reconnect-down")
{
    private async Task PublishUpstreamAsync(string body)
    {
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = Upstream.Url, Name = "test-publisher" });
        await publisher.ConnectAsync();
        await publisher.PublishAsync("news.item", Encoding.UTF8.GetBytes(body));
        await publisher.PingAsync();
    }

    [Fact]
    public async Task Killed_and_restarted_upstream_server_link_returns_to_running_and_forwards_again()
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(Downstream, "DOWN") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(Upstream, "UP") }, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^news$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = await StartEngineAsync(options);
        string Links() => DescribeLinks(engine);

        var subscription = await SubscribeAsync(Downstream, "news.*");
        List<string> have = [];
        await EventuallyAsync(async () => (have = await SubjectsAsync(Upstream)).Contains("news.*"), () => "the link's SUB upstream; have " + string.Join(",", have));

        await PublishUpstreamAsync("before");
        Assert.Equal("before", Body(await ReadAsync(subscription)));

        var port = Upstream.Port;
        await Upstream.StopAsync();
        await Eventually(() => engine.GetLinks() is [{ State: not LinkState.Running }], () => "the link to leave running; have " + Links());

        await Upstream.StartAsync();
        Assert.Equal(port, Upstream.Port);
        await Eventually(() => engine.GetLinks() is [{ State: LinkState.Running }], () => "the link to run again; have " + Links());
        await EventuallyAsync(async () => (have = await SubjectsAsync(Upstream)).Contains("news.*"), () => "the link's SUB on the restarted upstream; have " + string.Join(",", have));

        await PublishUpstreamAsync("after");
        var after = await ReadAsync(subscription);
        Assert.Equal("after", Body(after));
        Assert.Equal("UP", Assert.Single(HopRules.ReadReceivedFrom(NatsMessageMapping.ToProperties(after.Headers).Headers)).ClusterName);
        Assert.False(subscription.Msgs.TryRead(out _));
    }
}
