using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Collectives;
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

    // Requests in flight while an instance stops may lose a message (at-most-once); they give up after this long.
    private static readonly TimeSpan InFlightTimeout = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task ThreeInstances_ShareTheWork_AndRepliesStillCompleteAfterOneStopsMidStream()
    {
        const string Cluster = "newyork_scale";
        const int Warmup = 30;
        const int StreamRequests = 90;
        const int StopAfter = 30;
        const int Concurrency = 6;
        const int AfterStop = 30;
        var instances = new List<FederationBroker>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                instances.Add(await fixture.StartBrokerAsync(Cluster, "newyork", $"scale-{i}", ownedByFixture: false));
            }

            var (client, connection) = await fixture.OpenClientAsync();
            await using var _ = connection;

            for (var i = 0; i < Warmup; i++)
            {
                var warm = await client.RequestAsync(Request(Cluster, $"warmup-{i}", ReplyTimeout), CancellationToken.None);
                Assert.True(warm.Completed, $"warm-up request {i} got {warm.Replies.Count} of 2 replies");
            }

            Assert.All(instances, b => Assert.True(b.Statistics.RequestsReceived > 0 && b.Statistics.RepliesReceived > 0, $"{b.InstanceName}: {b.Statistics}"));
            output.WriteLine($"after warm-up: {string.Join("; ", instances.Select(b => $"{b.InstanceName} {b.Statistics}"))}");

            var stopped = instances[0];
            Task? stopping = null;
            var outcomes = new ConcurrentBag<(int Index, bool AfterStop, bool Completed, int Replies)>();
            using var gate = new SemaphoreSlim(Concurrency);
            var running = new List<Task>();
            for (var i = 0; i < StreamRequests; i++)
            {
                await gate.WaitAsync();
                if (i == StopAfter)
                {
                    stopping = stopped.StopAsync(CancellationToken.None);
                }

                var index = i;
                var afterStop = stopping is { IsCompletedSuccessfully: true };
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        var result = await client.RequestAsync(Request(Cluster, $"stream-{index}", afterStop ? ReplyTimeout : InFlightTimeout), CancellationToken.None);
                        outcomes.Add((index, afterStop, result.Completed, result.Replies.Count));
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
            }

            await Task.WhenAll(running);
            await stopping!;
            var lost = outcomes.Where(o => !o.Completed).OrderBy(o => o.Index).ToList();
            output.WriteLine($"stream: {outcomes.Count} requests, {outcomes.Count(o => o.AfterStop)} sent after the stop completed; incomplete: {lost.Count} [{string.Join(", ", lost.Select(o => $"#{o.Index}: {o.Replies}/2"))}]");
            Assert.Equal(StreamRequests, outcomes.Count);
            Assert.All(outcomes.Where(o => o.AfterStop), o => Assert.True(o.Completed, $"request #{o.Index}, sent after the stop, got {o.Replies} of 2 replies"));

            var stoppedStatistics = stopped.Statistics;
            var survivorsBefore = instances.Skip(1).Select(b => b.Statistics.RequestsReceived).ToList();
            for (var i = 0; i < AfterStop; i++)
            {
                var result = await client.RequestAsync(Request(Cluster, $"after-{i}", ReplyTimeout), CancellationToken.None);
                Assert.True(result.Completed, $"request {i} after the stop got {result.Replies.Count} of 2 replies");
            }

            output.WriteLine($"at the end: {string.Join("; ", instances.Select(b => $"{b.InstanceName} {b.Statistics}"))}");
            Assert.False(stopped.IsConnected);
            Assert.Equal(stoppedStatistics, stopped.Statistics);
            Assert.All(instances.Skip(1).Select((b, i) => b.Statistics.RequestsReceived - survivorsBefore[i]), handled => Assert.True(handled > 0));
        }
        finally
        {
            foreach (var instance in instances)
            {
                await instance.DisposeAsync();
            }
        }
    }

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

    private static FederatedRequest Request(string federation, string body, TimeSpan timeout) => new()
    {
        Federations = [federation],
        Targets = [AmqpCollectiveNode.Broadcast],
        Body = Encoding.UTF8.GetBytes(body),
        ExpectedReplies = 2,
        Timeout = timeout,
    };
}
