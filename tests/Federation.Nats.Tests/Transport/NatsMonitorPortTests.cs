using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Federation.Core.Transport;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// A <c>monitor-port</c> that cannot be read, or that belongs to another server, is said in the log: the downstream's
/// interest comes from it, so such a mistake would otherwise federate nothing (or the wrong thing) while every link shows
/// running and the host healthy.
/// </summary>
public sealed class NatsMonitorPortTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private NatsServerProcess _server = null!;
    private NatsServerProcess _other = null!;

    public async Task InitializeAsync()
    {
        _server = await NatsServerProcess.StartAsync("-n", "monitored");
        _other = await NatsServerProcess.StartAsync("-n", "someone-else");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _other.DisposeAsync();
    }

    [Fact]
    public async Task A_monitor_port_nothing_answers_on_is_logged_as_unreadable()
    {
        var closed = ClosedPort();
        using var logs = new CapturingLoggerFactory();
        await using var connection = await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?monitor-port={closed.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders&leases=false", "t"),
            CancellationToken.None);

        await connection.Topology!.GetSnapshotAsync(CancellationToken.None);

        await EventuallyAsync(() => logs.Text.Contains($"monitor-port {closed.ToString(CultureInfo.InvariantCulture)} cannot be read", StringComparison.Ordinal), () => logs.Text);
    }

    [Fact]
    public async Task A_monitor_port_of_another_server_is_logged_naming_it()
    {
        using var logs = new CapturingLoggerFactory();
        await using var connection = await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?monitor-port={_other.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders&leases=false", "t"),
            CancellationToken.None);

        await connection.Topology!.GetSnapshotAsync(CancellationToken.None);

        await EventuallyAsync(() => logs.Text.Contains("answers for server 'someone-else'", StringComparison.Ordinal), () => logs.Text);
    }

    [Fact]
    public async Task The_right_monitor_port_logs_nothing_about_it()
    {
        using var logs = new CapturingLoggerFactory();
        await using var connection = await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?monitor-port={_server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders&leases=false", "t"),
            CancellationToken.None);

        await connection.Topology!.GetSnapshotAsync(CancellationToken.None);

        Assert.DoesNotContain("monitor-port", logs.Text, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task EventuallyAsync(Func<bool> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out; log: " + describe());
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }
}
