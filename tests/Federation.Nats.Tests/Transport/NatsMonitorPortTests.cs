using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Federation.Core;
using Federation.Core.Hosting;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// A <c>monitor-port</c> that cannot be read, or that belongs to another server, is said in the log and told to the
/// engine, whose health check is then degraded: the downstream's interest comes from it, so such a mistake would
/// otherwise federate nothing (or the wrong thing) while every link shows running and the host healthy.
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
        string? unobserved = null;
        await using var connection = await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?monitor-port={closed.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders&leases=false", "t")
            {
                TopologyUnobserved = reason => Volatile.Write(ref unobserved, reason),
            },
            CancellationToken.None);

        await connection.Topology!.GetSnapshotAsync(CancellationToken.None);

        await EventuallyAsync(() => logs.Text.Contains($"monitor-port {closed.ToString(CultureInfo.InvariantCulture)} cannot be read", StringComparison.Ordinal), () => logs.Text);
        Assert.StartsWith($"monitor-port {closed.ToString(CultureInfo.InvariantCulture)} cannot be read", Volatile.Read(ref unobserved), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_monitor_port_of_another_server_is_logged_naming_it()
    {
        using var logs = new CapturingLoggerFactory();
        string? unobserved = null;
        await using var connection = await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?monitor-port={_other.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders&leases=false", "t")
            {
                TopologyUnobserved = reason => Volatile.Write(ref unobserved, reason),
            },
            CancellationToken.None);

        await connection.Topology!.GetSnapshotAsync(CancellationToken.None);

        await EventuallyAsync(() => logs.Text.Contains("answers for server 'someone-else'", StringComparison.Ordinal), () => logs.Text);
        Assert.Contains("not for 'monitored'", logs.Text, StringComparison.Ordinal);
        Assert.Contains("answers for server 'someone-else'", Volatile.Read(ref unobserved) ?? string.Empty, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_right_monitor_port_logs_nothing_about_it()
    {
        using var logs = new CapturingLoggerFactory();
        var told = 0;
        await using var connection = await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?monitor-port={_server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders&leases=false", "t")
            {
                TopologyUnobserved = _ => Interlocked.Increment(ref told),
            },
            CancellationToken.None);

        await connection.Topology!.GetSnapshotAsync(CancellationToken.None);

        Assert.DoesNotContain("monitor-port", logs.Text, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref told));
    }

    [Fact]
    public async Task An_engine_whose_downstream_monitor_port_is_wrong_reports_degraded_health_naming_it_until_it_is_fixed()
    {
        var closed = ClosedPort().ToString(CultureInfo.InvariantCulture);
        var options = Options($"{_server.Url}?monitor-port={closed}&monitor-interval-ms=50&cluster-name=monitored&namespaces=orders&leases=false");
        await using var engine = new FederationEngine(options, [new NatsTransport()]);
        await engine.StartAsync(CancellationToken.None);
        var health = new FederationHealthCheck(engine);

        await EventuallyAsync(() => engine.DownstreamTopologyUnobserved is not null, () => $"connected: {engine.IsDownstreamConnected}, error: {engine.DownstreamError}");
        var degraded = await health.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains($"monitor-port {closed} cannot be read", degraded.Description, StringComparison.Ordinal);
        Assert.True(degraded.Data.ContainsKey("topology_unobserved"));

        // Fixed by a reload: the new downstream connection reads its interest, and health is what the links make it.
        await engine.UpdateAsync(Options($"{_server.Url}?monitor-port={_server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&cluster-name=monitored&namespaces=orders&leases=false"), CancellationToken.None);
        await EventuallyAsync(() => engine.IsDownstreamConnected && engine.DownstreamTopologyUnobserved is null, () => $"still: {engine.DownstreamTopologyUnobserved}");
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    private FederationOptions Options(string downstream)
    {
        var options = new FederationOptions { Downstream = { Uri = downstream } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { $"{_other.Url}?cluster-name=someone-else&leases=false" } };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        return options;
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
