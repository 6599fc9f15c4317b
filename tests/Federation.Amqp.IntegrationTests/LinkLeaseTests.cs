using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Two <see cref="FederationEngine"/>s with the same configuration against one real downstream node: the link's lease (an
/// exclusive queue on the downstream) lets one run the link; the other waits, says who holds it, and takes over when the
/// first stops or dies. Every message published upstream arrives downstream exactly once, and the upstream queue never
/// has two consumers.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class LinkLeaseTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private static readonly TimeSpan TakeOver = TimeSpan.FromSeconds(30);
    private readonly List<IAsyncDisposable> resources = [];
    private readonly string exchange = $"fed.lease.{Guid.NewGuid():N}";
    private IChannel upstream = null!;
    private IChannel downstream = null!;
    private string downstreamQueue = null!;
    private readonly List<string> received = [];

    private string UpstreamQueue => $"federation: {exchange} -> {nodes.Downstream.ClusterName}";

    private string Lease => $"federation: lease {nodes.Downstream.ClusterName} {exchange} -> up";

    public async Task InitializeAsync()
    {
        // Publisher confirms: each publish returns once the upstream node has the message.
        upstream = await OpenChannelAsync(nodes.Upstream.AmqpPort, new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        downstream = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        await downstream.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        downstreamQueue = (await downstream.QueueDeclareAsync($"{exchange}.received", durable: false, exclusive: false, autoDelete: false)).QueueName;
        await downstream.QueueBindAsync(downstreamQueue, exchange, "#");
    }

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        await using var channel = await OpenChannelAsync(nodes.Upstream.AmqpPort);
        await channel.QueueDeleteAsync(UpstreamQueue);
        await using var down = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        await down.QueueDeleteAsync(downstreamQueue);
        await down.ExchangeDeleteAsync(exchange);
    }

    [Fact]
    public async Task Second_engine_waits_naming_the_holder_then_takes_over_when_the_first_stops_and_every_message_arrives_once()
    {
        var (a, _) = await StartEngineAsync("host-a");
        await WaitForAsync(a, LinkState.Running);
        var (b, _) = await StartEngineAsync("host-b");
        var waiting = await WaitForAsync(b, LinkState.Waiting);
        Assert.Equal(Lease, waiting.Lease);
        Assert.Equal("host-a", waiting.LeaseHolder); // read from the lease queue's arguments through the management API
        Assert.Contains("'host-a'", waiting.Waiting, StringComparison.Ordinal);
        Assert.Null(waiting.Error);

        await using var census = await ConsumerCensus.StartAsync(await OpenChannelAsync(nodes.Upstream.AmqpPort), UpstreamQueue);
        await PublishAsync(0, 500);
        await a.StopAsync(CancellationToken.None);
        await PublishAsync(500, 1000); // nobody runs the link now: they wait in the upstream queue
        var taken = await WaitForAsync(b, LinkState.Running, TakeOver);
        Assert.Equal("host-b", taken.LeaseHolder);
        await PublishAsync(1000, 1500);

        await ExpectEachOnceAsync(1500);
        Assert.Equal(1, census.MostAtOnce);
    }

    [Fact]
    public async Task Waiting_engine_takes_over_when_the_first_dies_and_every_message_arrives_once()
    {
        var (a, crashA) = await StartEngineAsync("host-a", cleanup: ResourceCleanupMode.Default);
        await WaitForAsync(a, LinkState.Running);
        var (b, _) = await StartEngineAsync("host-b", cleanup: ResourceCleanupMode.Default);
        await WaitForAsync(b, LinkState.Waiting);

        await using var census = await ConsumerCensus.StartAsync(await OpenChannelAsync(nodes.Upstream.AmqpPort), UpstreamQueue);
        await PublishAsync(0, 500);

        // Killed with nothing in flight: a kill mid-stream redelivers what the dead engine forwarded but had not yet
        // acknowledged (at-least-once; duplicate suppression is what removes those), which is not what this test is about.
        await WaitUntilSettledAsync(500);

        // As a killed process: every connection closes at once, no clean stop runs, and it never comes back.
        await crashA.CrashAsync();
        await PublishAsync(500, 1000);
        await WaitForAsync(b, LinkState.Running, TakeOver);
        await PublishAsync(1000, 1500);

        await ExpectEachOnceAsync(1500);
        Assert.Equal(1, census.MostAtOnce);
    }

    [Fact]
    public async Task Of_two_engines_with_one_instance_name_the_later_stands_aside_and_takes_over_losing_nothing_when_the_first_stops()
    {
        // One configuration with its InstanceName copied to two hosts, with the default cleanup: before, the first's clean
        // stop heard no other instance (the roster ignores its own name), deleted the upstream queue as the last one, and
        // what the upstream routed until the second declared it again was lost. The start time and the stand-aside mark
        // travel as AMQP header strings (read back as bytes), unlike in memory.
        var (a, _) = await StartEngineAsync("host-a", cleanup: ResourceCleanupMode.Default, spread: true);
        await WaitForAsync(a, LinkState.Running);
        var (b, _) = await StartEngineAsync("host-a", cleanup: ResourceCleanupMode.Default, spread: true);
        var conflict = await Poll.UntilAsync(() => Task.FromResult(b.InstanceConflict), "the second engine should say that it stands aside");
        Assert.Contains("Federation:InstanceName 'host-a'", conflict, StringComparison.Ordinal);
        Assert.Contains("stands aside", conflict, StringComparison.Ordinal);
        var waiting = await Poll.UntilAsync(
            () => Task.FromResult(b.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l.State == LinkState.Waiting && l.Waiting?.Contains("stands aside", StringComparison.Ordinal) == true)),
            $"the second engine's link should wait, standing aside; it is {string.Join(", ", b.GetLinks().Select(l => $"{l.State} {l.Waiting}"))}");
        Assert.Contains("Federation:InstanceName 'host-a'", waiting.Waiting, StringComparison.Ordinal);
        // The first engine learns of the second from the second's heartbeat, which may come after the second heard the first.
        await Poll.UntilAsync(() => Task.FromResult(a.InstanceConflict), "the first engine should say that another run has its name");
        Assert.Equal(LinkState.Running, Assert.Single(a.GetLinks(), l => l.Exchange == exchange).State);

        await using var census = await ConsumerCensus.StartAsync(await OpenChannelAsync(nodes.Upstream.AmqpPort), UpstreamQueue);
        await PublishAsync(0, 500);
        await a.StopAsync(CancellationToken.None);
        await PublishAsync(500, 1000); // nobody runs the link now: they wait in the upstream queue, which the stop kept
        await WaitForAsync(b, LinkState.Running, TakeOver);
        await PublishAsync(1000, 1500);

        await ExpectEachOnceAsync(1500);
        Assert.Equal(1, census.MostAtOnce);
        Assert.Null(b.InstanceConflict);
    }

    [Fact]
    public async Task A_lease_queue_deleted_by_an_operator_is_lost_at_once_so_the_link_never_runs_on_two_engines()
    {
        var (a, _) = await StartEngineAsync("host-a");
        await WaitForAsync(a, LinkState.Running);
        var (b, _) = await StartEngineAsync("host-b");
        await WaitForAsync(b, LinkState.Waiting);
        await using var census = await ConsumerCensus.StartAsync(await OpenChannelAsync(nodes.Upstream.AmqpPort), UpstreamQueue);
        await PublishAsync(0, 500);
        await WaitUntilSettledAsync(500);

        // host-a's downstream connection lives on: only the deletion itself tells it that the lease is gone.
        var deleted = await nodes.Downstream.CtlAsync(CancellationToken.None, "delete_queue", Lease);
        Assert.True(deleted.ExitCode == 0, deleted.Output);

        // host-a asks again at once, host-b at its next poll (at most 5 s later): publish through that window, so that a
        // second consumer, had host-a kept running while host-b took the lease, would show in the census.
        FederationEngine[] both = [a, b];
        var window = DateTime.UtcNow + TimeSpan.FromSeconds(5 + 2); // the longest poll of a waiting engine, and some
        var published = 500;
        while (DateTime.UtcNow < window || !both.Any(e => e.GetLinks().Any(l => l.Exchange == exchange && l.State == LinkState.Running)))
        {
            await PublishAsync(published, published + 10);
            published += 10;
            await Task.Delay(TimeSpan.FromMilliseconds(100)); // pace of the publisher, not a wait for an effect
        }

        var runner = both.Single(e => e.GetLinks().Single(l => l.Exchange == exchange).State == LinkState.Running).GetLinks().Single(l => l.Exchange == exchange);
        Assert.Equal(runner.Instance, runner.LeaseHolder);

        // A restart redelivers what was forwarded but not yet acknowledged (at-least-once), so ids may come twice here.
        await Poll.UntilAsync(
            async () => await DrainDownstreamAsync() >= published && await upstream.MessageCountAsync(UpstreamQueue) == 0 ? received : null,
            $"{published} distinct messages downstream; have {received.Distinct().Count()}");
        Assert.Equal(1, census.MostAtOnce);

    }

    [Fact]
    public async Task A_second_engine_with_a_typo_in_its_cluster_name_runs_the_link_too_and_both_say_so()
    {
        // Meant as one federation; one host's cluster name has a letter doubled: two federations, two upstream queues, and
        // every message arrives twice. Before 6 Dec 2026 nothing said so.
        var typo = nodes.Downstream.ClusterName + "x";
        // With spreading, as deployed: the instances announce themselves, which is how they hear each other.
        var (a, _) = await StartEngineAsync("host-a", spread: true);
        var (b, _) = await StartEngineAsync("host-b", clusterName: typo, spread: true);
        try
        {
            foreach (var (engine, other, otherCluster) in new[] { (a, "host-b", typo), (b, "host-a", nodes.Downstream.ClusterName) })
            {
                var link = await Poll.UntilAsync(
                    () => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l is { State: LinkState.Running, AlsoFederatedBy: [_] })),
                    $"the link should be running and name the other federation; it is {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} also={string.Join(",", l.AlsoFederatedBy ?? [])} {l.Error}"))}");
                Assert.Equal([$"instance '{other}' of federation '{otherCluster}'"], link.AlsoFederatedBy);
                var health = await new Federation.Core.Hosting.FederationHealthCheck(engine).CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());
                Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, health.Status);
            }

            // What the warning is about: each message arrives once per federation.
            await PublishAsync(0, 10);
            await Poll.UntilAsync(async () => { await DrainDownstreamAsync(); return received.Count >= 20 ? received : null; }, $"20 deliveries of 10 messages; have {received.Count}");
            Assert.All(received.GroupBy(id => id), g => Assert.Equal(2, g.Count()));
        }
        finally
        {
            await b.StopAsync(CancellationToken.None);
            await using var channel = await OpenChannelAsync(nodes.Upstream.AmqpPort);
            await channel.QueueDeleteAsync($"federation: {exchange} -> {typo}");
        }

        // The other stopped: the first clears.
        await Poll.UntilAsync(
            () => Task.FromResult(a.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l is { State: LinkState.Running, AlsoFederatedBy: null })),
            "the link should no longer name the other federation");
    }

    private async Task<(FederationEngine Engine, CrashableTransport Transport)> StartEngineAsync(string instance, ResourceCleanupMode cleanup = ResourceCleanupMode.Never, string? clusterName = null, bool spread = false)
    {
        // Leases alone, without spreading: this is about the lease (who waits, the holder read through the management API,
        // take-over), so the second engine must ask for it rather than stand by where placement puts the link.
        var options = new FederationOptions { InstanceName = instance, ClusterName = clusterName, Downstream = { Uri = nodes.Downstream.AmqpUri() }, SpreadLinks = spread };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { nodes.Upstream.AmqpUri() }, ReconnectDelaySeconds = 1, ResourceCleanupMode = cleanup };
        options.Policies["fed"] = new FederationPolicy
        {
            Pattern = "^" + System.Text.RegularExpressions.Regex.Escape(exchange) + "$",
            ApplyTo = "exchanges",
            Definition = new FederationPolicyDefinition { FederationUpstream = "up" },
        };
        var transport = new CrashableTransport(new AmqpTransport());
        var engine = new FederationEngine(options, [transport]);
        resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return (engine, transport);
    }

    private async Task<LinkStatus> WaitForAsync(FederationEngine engine, LinkState state, TimeSpan? timeout = null) =>
        await Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l.State == state)),
            $"the link should be {state}; it is {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error} {l.Waiting}"))}",
            timeout);

    private async Task PublishAsync(int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            await upstream.BasicPublishAsync(exchange, "k", true, new BasicProperties { MessageId = Id(i), DeliveryMode = DeliveryModes.Persistent }, Encoding.UTF8.GetBytes(Id(i)));
        }
    }

    /// <summary>Reads the downstream queue until every id arrived and the upstream queue is empty; no id may come twice.</summary>
    private async Task ExpectEachOnceAsync(int count)
    {
        await Poll.UntilAsync(
            async () => await DrainDownstreamAsync() >= count && await upstream.MessageCountAsync(UpstreamQueue) == 0 ? received : null,
            $"{count} distinct messages downstream; have {received.Distinct().Count()}");

        Assert.Equal(Enumerable.Range(0, count).Select(Id).Order(StringComparer.Ordinal), received.Order(StringComparer.Ordinal));
    }

    /// <summary>Waits until <paramref name="count"/> messages arrived and the upstream node holds no unacknowledged one.</summary>
    private async Task WaitUntilSettledAsync(int count) =>
        await Poll.UntilAsync(
            async () => await DrainDownstreamAsync() >= count && await UnacknowledgedUpstreamAsync() == 0 ? received : null,
            $"{count} messages forwarded and acknowledged; have {received.Distinct().Count()}");

    private async Task<int> DrainDownstreamAsync()
    {
        while (await downstream.BasicGetAsync(downstreamQueue, autoAck: true) is { } message)
        {
            received.Add(Encoding.UTF8.GetString(message.Body.Span));
        }

        return received.Distinct().Count();
    }

    private Task<int> UnacknowledgedUpstreamAsync() => nodes.Upstream.UnacknowledgedAsync(UpstreamQueue);

    private static string Id(int i) => i.ToString("D5", CultureInfo.InvariantCulture);

    private async Task<IChannel> OpenChannelAsync(int port, CreateChannelOptions? options = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        resources.Add(connection);
        var channel = await connection.CreateChannelAsync(options);
        resources.Add(channel);
        return channel;
    }

    /// <summary>A transport that can die as a killed process does: all its connections close at once, and none open again.</summary>
    internal sealed class CrashableTransport(ITransport inner) : ITransport
    {
        private readonly ConcurrentQueue<IBrokerConnection> connections = new();
        private volatile bool crashed;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public TransportCapabilities Capabilities => inner.Capabilities;

        public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            if (crashed)
            {
                throw new BrokerUnreachableException("this engine is dead");
            }

            var connection = await inner.ConnectAsync(request, cancellationToken);
            connections.Enqueue(connection);
            return connection;
        }

        public async Task CrashAsync()
        {
            crashed = true;
            await Task.WhenAll(connections.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Samples the consumer count of the upstream queue for as long as it lives.</summary>
    private sealed class ConsumerCensus : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private Task sampling = Task.CompletedTask;
        private int most;

        public int MostAtOnce => Volatile.Read(ref most);

        public static async Task<ConsumerCensus> StartAsync(IChannel channel, string queue)
        {
            var census = new ConsumerCensus();
            census.most = (int)await channel.ConsumerCountAsync(queue);
            census.sampling = census.SampleAsync(channel, queue);
            return census;
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await sampling;
            stop.Dispose();
        }

        private async Task SampleAsync(IChannel channel, string queue)
        {
            while (!stop.IsCancellationRequested)
            {
                var consumers = (int)await channel.ConsumerCountAsync(queue);
                most = Math.Max(most, consumers);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(20), stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
