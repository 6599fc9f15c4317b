using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Nats.Tests.Security;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// What a broker instance reports while the NATS client reconnects on its own: the connection stays open (so the broker's
/// supervisor never sees it end), but the instance is not connected, and its health says which side and why.
/// </summary>
public sealed class BrokerConnectionStateTests
{
    [Fact]
    public async Task A_broker_is_not_connected_while_its_collective_server_is_down_and_connected_again_after()
    {
        await using var federation = await NatsServerProcess.StartAsync();
        await using var collective = await NatsServerProcess.StartAsync();
        var broker = new FederationBroker(
            new FederationBrokerOptions
            {
                ClusterName = "london",
                FederationUri = federation.Url,
                CollectiveUri = $"nats://broker:s3cr3t-pw@127.0.0.1:{collective.Port}?reconnect-wait-ms=100",
                InstanceName = "london-1",
            },
            [new NatsSubjectTransport()]);
        await using (broker)
        {
            await broker.StartAsync(CancellationToken.None);
            Assert.True(broker.IsConnected);
            Assert.Null(broker.ConnectError);

            await collective.StopAsync();
            await Eventually.TrueAsync(() => !broker.IsConnected, "the broker reports the lost collective server");
            var error = broker.ConnectError;
            Assert.NotNull(error);
            Assert.Contains("collective connection", error, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cr3t", error, StringComparison.Ordinal);

            await collective.StartAsync();
            await Eventually.TrueAsync(() => broker.IsConnected, "the broker reconnected", TimeSpan.FromSeconds(30));
            Assert.Null(broker.ConnectError);
        }
    }

    [Fact]
    public async Task A_subject_connection_logs_reconnected_once_per_reconnect_and_not_for_its_first_connect()
    {
        await using var server = await NatsServerProcess.StartAsync();
        var logs = new CapturingLoggerFactory();
        await using var connection = await new NatsSubjectTransport(logs).ConnectAsync(
            new SubjectConnectionRequest($"{server.Url}?reconnect-wait-ms=100", "reconnect log"), CancellationToken.None);

        await server.StopAsync();
        await Eventually.TrueAsync(() => connection.ConnectedServer is null, "the connection noticed the stopped server");
        await server.StartAsync();
        await Eventually.TrueAsync(() => Reconnects() >= 1, "the reconnect is logged", TimeSpan.FromSeconds(30));

        // Without telling the first connect's "opened" event (raised late, from the client's event queue) from a reconnect,
        // it would count as a second reconnect.
        await connection.FlushAsync(CancellationToken.None);
        Assert.Equal(1, Reconnects());

        int Reconnects() => logs.Text.Split(Environment.NewLine).Count(line => line.Contains("; subscriptions replayed", StringComparison.Ordinal));
    }
}
