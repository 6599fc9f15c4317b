using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A link start leaves no error in the upstream broker's log, as a link start of the federation plugin leaves none. Until
/// 8 Dec 2026 every start asked which internal exchange generation exists, and whether a handover queue waits, with
/// passive declares: the generation that is not there (one at every start) and the handover queue (almost always absent)
/// each closed a channel, and RabbitMQ logged two channel errors (<c>operation exchange.declare caused a channel exception
/// not_found</c>, and the same for <c>queue.declare</c>) per link start, four lines of <c>[error]</c> in the upstream's
/// log at every reconnect of every link. Now those questions go to the management API, whose 404 is no broker error.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class QuietLinkStartTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private readonly string exchange = $"fed.quiet.{Guid.NewGuid():N}";
    private FederationEngine engine = null!;

    public async Task InitializeAsync()
    {
        // The upstream exchange exists: a missing one is checked with a passive declare and then declared, as the plugin
        // does (and as the plugin's, that check logs a channel error once); that is not what this test is about.
        await using (var up = await OpenAsync(nodes.Upstream.AmqpPort))
        await using (var channel = await up.CreateChannelAsync())
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        }

        await using (var down = await OpenAsync(nodes.Downstream.AmqpPort))
        await using (var channel = await down.CreateChannelAsync())
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        }

        var options = new FederationOptions { Downstream = { Uri = nodes.Downstream.AmqpUri() }, SpreadLinks = false };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1 };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(exchange) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        engine = new FederationEngine(options, [new AmqpTransport()]);
        await engine.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await engine.DisposeAsync();
        await using (var up = await OpenAsync(nodes.Upstream.AmqpPort))
        await using (var channel = await up.CreateChannelAsync())
        {
            await channel.QueueDeleteAsync($"federation: {exchange} -> {nodes.Downstream.ClusterName}");
            await channel.ExchangeDeleteAsync(exchange);
        }

        await using (var down = await OpenAsync(nodes.Downstream.AmqpPort))
        await using (var channel = await down.CreateChannelAsync())
        {
            await channel.ExchangeDeleteAsync(exchange);
        }
    }

    [Fact]
    public async Task Starting_and_restarting_a_link_logs_no_channel_error_on_the_upstream()
    {
        var since = (await RunningAsync(DateTimeOffset.MinValue)).Since;
        for (var restart = 0; restart < 2; restart++)
        {
            await engine.RestartLinkAsync(Assert.Single(engine.GetLinks(), l => l.Exchange == exchange).Id, CancellationToken.None);
            since = (await RunningAsync(since)).Since;
        }

        var marker = $"{exchange}.log-marker";
        var log = await NodeLog.ThroughMarkerAsync(nodes.Upstream, marker);
        var linkErrors = NodeLog.ChannelErrorsNaming(log, exchange, marker);
        Assert.True(linkErrors.Count == 0, "the link's starts caused channel errors on the upstream:\n" + string.Join('\n', linkErrors));
    }

    private Task<LinkStatus> RunningAsync(DateTimeOffset after) =>
        Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l.State == LinkState.Running && l.Since > after)),
            $"the link runs (again); it is {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))}");

    private static Task<IConnection> OpenAsync(int port) =>
        new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") }.CreateConnectionAsync();
}
