using System.Net;
using System.Net.Sockets;
using Federation.Testing.Brokers;
using Xunit;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// The test harness itself: a node whose boot fails is reported as such ("failed to boot", not "did not start within"), with its log, instead of being polled for the whole
/// startup timeout (a CI run lost two minutes and a fixture this way when a node died at boot).
/// </summary>
public sealed class RabbitMqNodeBootFailureTests
{
    [Fact]
    public async Task A_node_that_cannot_bind_its_listener_fails_fast_with_its_log()
    {
        // A second AMQP listener on a port this test holds: every attempt's boot fails the same way.
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;

        var failure = await Assert.ThrowsAnyAsync<InvalidOperationException>(() =>
            RabbitMqNode.StartNewAsync(RabbitMqNode.DefaultPlugins, [$"listeners.tcp.2 = 127.0.0.1:{taken}"]));

        Assert.Contains("failed to boot", failure.Message, StringComparison.Ordinal);
        Assert.Contains("eaddrinuse", failure.Message, StringComparison.Ordinal);
    }
}
