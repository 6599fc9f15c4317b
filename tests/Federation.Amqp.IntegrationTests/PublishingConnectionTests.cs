using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Publishers live on a connection of their own (AmqpConnection.CreatePublishChannelAsync), because RabbitMQ.Client's race
/// over a channel the broker closes can make RabbitMQ close the whole connection (see <see cref="ClientCloseOkRace"/>).
/// Losing the publishing connection, however it goes, must cost the publishers only: the leases, the topology events and
/// every other call on the connection go on, and the next publisher opens a new publishing connection.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class PublishingConnectionTests(FederationNodesFixture nodes)
{
    [Fact]
    public async Task A_publishing_connection_the_broker_closes_costs_the_publishers_only()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var name = $"publishing-{Guid.NewGuid():N}";
        var queue = $"publishing.q.{Guid.NewGuid():N}";
        var connection = await new AmqpTransport().ConnectAsync(new ConnectionRequest(nodes.Downstream.AmqpUri(), name, ObserveTopology: true), timeout.Token);
        try
        {
            await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false), timeout.Token);
            var lease = (await connection.Leases!.TryAcquireAsync(new LeaseRequest($"lease {name}", "test"), timeout.Token)).Lease;
            Assert.NotNull(lease);
            var changes = new System.Collections.Concurrent.ConcurrentQueue<TopologyChange>();
            using var subscription = connection.Topology!.Subscribe(changes.Enqueue);

            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), timeout.Token);
            await publisher.PublishAsync("", queue, new MessageProperties(), "m1"u8.ToArray(), timeout.Token);

            // The publishers' connection is apart from the one the connection was asked for, and says what it is for.
            var pids = await ConnectionPidsAsync(name);
            Assert.Equal(2, pids.Count);
            var publishing = Assert.Single(pids, p => p.Name == name + AmqpTransport.PublishingSuffix);

            var closed = await nodes.Downstream.CtlAsync(timeout.Token, "close_connection", publishing.Pid, "the test closes the publishing connection");
            Assert.True(closed.ExitCode == 0, closed.Output);
            await Poll.UntilAsync(
                async () =>
                {
                    try
                    {
                        await publisher.PublishAsync("", queue, new MessageProperties(), "m2"u8.ToArray(), timeout.Token);
                        return null;
                    }
                    catch (TransportException failed)
                    {
                        return failed;
                    }
                },
                "publishing should fail once the publishing connection is closed");

            // The connection, its lease and its topology events are all still there.
            Assert.False(connection.Completion.IsCompleted, "the connection ended with its publishing connection");
            Assert.True(lease.IsHeld, "the lease went with the publishing connection");
            var exchange = $"publishing.x.{Guid.NewGuid():N}";
            await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, "fanout"), timeout.Token);
            await Poll.UntilAsync(() => Task.FromResult(changes.Any(c => c.Exchange?.Name == exchange) ? "seen" : null), "the topology events should go on");

            // A new publisher opens a new publishing connection.
            await publisher.DisposeAsync();
            publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), timeout.Token);
            await publisher.PublishAsync("", queue, new MessageProperties(), "m3"u8.ToArray(), timeout.Token);
            await publisher.DisposeAsync();
            var again = await ConnectionPidsAsync(name);
            Assert.Equal(2, again.Count);
            Assert.DoesNotContain(again, p => p.Pid == publishing.Pid);
            await connection.DeleteExchangeAsync(exchange, timeout.Token);
            await connection.DeleteQueueAsync(queue, timeout.Token);
            await lease.DisposeAsync();
        }
        finally
        {
            await connection.DisposeAsync();
        }

        // Both connections close with it.
        await Poll.UntilAsync(async () => (await ConnectionPidsAsync(name)).Count == 0 ? "closed" : null, "both connections should close with the connection");
    }

    /// <summary>The connections whose client-provided name starts with <paramref name="name"/>, with their pids.</summary>
    private async Task<List<(string Pid, string Name)>> ConnectionPidsAsync(string name)
    {
        var listed = await nodes.Downstream.CtlAsync(CancellationToken.None, "list_connections", "pid", "name", "client_properties", "--silent");
        Assert.True(listed.ExitCode == 0, listed.Output);
        return
        [
            .. listed.Output.Split('\n')
                .Select(line => line.Split('\t'))
                .Where(fields => fields.Length >= 3)
                .Select(fields => (Pid: fields[0].Trim(), Properties: fields[2]))
                .Where(c => c.Properties.Contains(name, StringComparison.Ordinal))
                .Select(c => (c.Pid, c.Properties.Contains(name + AmqpTransport.PublishingSuffix, StringComparison.Ordinal) ? name + AmqpTransport.PublishingSuffix : name)),
        ];
    }
}
