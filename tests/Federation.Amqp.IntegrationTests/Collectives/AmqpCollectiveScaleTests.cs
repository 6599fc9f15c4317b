using System.Text;
using Federation.Core.Collectives;
using Federation.Transport.Contracts.Collectives;
using Xunit.Abstractions;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>
/// The collective scale test of the NATS suite (tests/Federation.Nats.Tests/Collectives/CollectiveScaleTests.cs), over
/// RabbitMQ: queue groups are shared queues, so three instances share the work, and when one stops mid-stream its
/// unacknowledged deliveries go back to the queue for the others.
/// </summary>
[Collection(AmqpCollectivesCollection.Name)]
public sealed class AmqpCollectiveScaleTests(AmqpCollectivesFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public Task ThreeInstances_ShareTheWork_AndRepliesStillCompleteAfterOneStopsMidStream() =>
        CollectiveScaleScenario.ThreeInstancesShareTheWorkAndSurviveOneStoppingAsync(
            "newyork_scale",
            i => fixture.StartBrokerAsync("newyork_scale", "newyork", $"scale-{i}", ownedByFixture: false),
            fixture.OpenClientAsync,
            output);

    [Fact]
    public async Task TheFederation_ReachesEveryCollective_AndTheClientGetsPlainRepliesWithTheTrail()
    {
        var (client, connection) = await fixture.OpenClientAsync();
        await using var _ = connection;
        var body = $"ping-{Guid.NewGuid():N}";

        var result = await client.RequestAsync(
            new FederatedRequest
            {
                Federations = [.. AmqpCollectivesFixture.CollectiveNames],
                Targets = [AmqpCollectiveNode.Broadcast],
                Body = Encoding.UTF8.GetBytes(body),
                ExpectedReplies = 6,
                Timeout = ReplyTimeout,
            },
            CancellationToken.None);

        Assert.True(result.Completed);
        var everyNode = AmqpCollectivesFixture.CollectiveNames.SelectMany(c => new[] { AmqpCollectivesFixture.NodeName(c, 1), AmqpCollectivesFixture.NodeName(c, 2) }).Order();
        Assert.Equal(everyNode, result.Replies.Select(r => Encoding.UTF8.GetString(r.Body.Span)).Order());
        var federationServer = $"amqp://127.0.0.1:{fixture.FederationNode.AmqpPort}";
        foreach (var reply in result.Replies)
        {
            var node = Encoding.UTF8.GetString(reply.Body.Span);
            var collective = node[..node.IndexOf('-', StringComparison.Ordinal)];
            var collectiveServer = $"amqp://127.0.0.1:{fixture.CollectiveNode.AmqpPort}/{collective}";
            Assert.Contains(new KeyValuePair<string, string>("node", node), reply.Headers!);
            var trail = FederatedMessages.GetSeenBy(reply);
            Assert.Equal(new SeenByHop(federationServer, "test-client", federationServer), trail[0]);
            Assert.Equal(new SeenByHop(federationServer, $"{collective}-broker", collectiveServer), trail[1]);
            Assert.Equal(new SeenByHop(collectiveServer, $"{collective}-broker", federationServer), trail[^1]);
        }

        Assert.All(fixture.Nodes.Values.SelectMany(n => n), node => Assert.Single(node.Received, body));
    }

    [Fact]
    public async Task ABrokerWhoseConnectionsAreClosedByTheServer_Reconnects_AndServesAgain()
    {
        var broker = await fixture.StartBrokerAsync("tokyo_reconnect", "tokyo", "tokyo-reconnect", ownedByFixture: false);
        await using (broker)
        {
            // Only the broker's connections, found by the name it gives them: the fixture's nodes keep theirs.
            var closed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var node in new[] { fixture.FederationNode, fixture.CollectiveNode })
            {
                foreach (var pid in await BrokerConnectionsAsync(node))
                {
                    var close = await node.CtlAsync(CancellationToken.None, "close_connection", pid, "test closes the broker's connection");
                    Assert.True(close.ExitCode == 0, close.Output);
                    closed.Add(pid);
                }
            }

            Assert.Equal(2, closed.Count);

            // The broker noticed and opened new connections on both nodes (new pids), then it answers again.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                var federationSide = (await BrokerConnectionsAsync(fixture.FederationNode)).Except(closed).Count();
                var collectiveSide = (await BrokerConnectionsAsync(fixture.CollectiveNode)).Except(closed).Count();
                if (federationSide == 1 && collectiveSide == 1 && broker.IsConnected)
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, $"the broker did not reconnect: {broker.ConnectError}");
                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }

            var (client, connection) = await fixture.OpenClientAsync();
            await using var _ = connection;
            var result = await client.RequestAsync(Request("tokyo_reconnect", "after-reconnect", ReplyTimeout), CancellationToken.None);
            Assert.True(result.Completed, $"got {result.Replies.Count} of 2 replies");
        }
    }

    private static async Task<List<string>> BrokerConnectionsAsync(Testing.Brokers.RabbitMqNode node)
    {
        var listed = await node.CtlAsync(CancellationToken.None, "list_connections", "pid", "client_properties", "--silent");
        Assert.True(listed.ExitCode == 0, listed.Output);
        return [.. listed.Output.Split('\n').Where(l => l.Contains("tokyo-reconnect", StringComparison.Ordinal)).Select(l => l.Split('\t')[0].Trim())];
    }

    private static FederatedRequest Request(string federation, string body, TimeSpan timeout) =>
        CollectiveScaleScenario.Request(federation, body, timeout);
}

/// <summary>
/// A request from a plain AMQP client whose header names no subject transport may send (a space in a name): the broker
/// drops it once, as malformed, instead of failing a publish to each target.
/// </summary>
[Collection(AmqpCollectivesCollection.Name)]
public sealed class AmqpCollectiveBadHeaderTests(AmqpCollectivesFixture fixture)
{
    [Fact]
    public async Task A_request_with_a_header_name_no_transport_may_send_is_rejected_once_as_malformed()
    {
        var broker = await fixture.StartBrokerAsync("london_badheader", "london", "london-badheader", ownedByFixture: false);
        await using (broker)
        {
            var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(fixture.FederationUri) };
            await using var client = await factory.CreateConnectionAsync();
            await using var channel = await client.CreateChannelAsync();
            var properties = new RabbitMQ.Client.BasicProperties
            {
                Headers = new Dictionary<string, object?>
                {
                    [FederationHeaders.RequestId] = Encoding.UTF8.GetBytes("0123456789abcdef0123456789abcdef"),
                    [FederationHeaders.ReplyTo] = Encoding.UTF8.GetBytes("client.reply.bad"),
                    // Two targets: a failing publish would count an error for each.
                    [FederationHeaders.Target] = new List<object> { Encoding.UTF8.GetBytes("mcollective.node.x"), Encoding.UTF8.GetBytes("mcollective.node.y") },
                    ["bad name"] = Encoding.UTF8.GetBytes("v"),
                },
            };
            const string subject = "choria.federation.london_badheader.federation";
            await channel.BasicPublishAsync("amq.topic", subject, mandatory: false, properties, Encoding.UTF8.GetBytes("x"));

            // Then a good request: once it is published, the bad one (ahead of it in the one instance's queue) was handled.
            properties.Headers.Remove("bad name");
            await channel.BasicPublishAsync("amq.topic", subject, mandatory: false, properties, Encoding.UTF8.GetBytes("y"));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (broker.Statistics.Published < 2)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the good request was not relayed: {broker.Statistics}");
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }

            Assert.Equal(1, broker.Statistics.Errors);
            Assert.Equal(2, broker.Statistics.Published);
        }
    }
}
