using System.Globalization;
using System.Text.Json;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Testing.Brokers;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Interop;

/// <summary>
/// A third-party client on both ends: the npm <c>nats</c> client publishes on the upstream server and subscribes on the
/// downstream server, and our link in between forwards exactly what the subscriber's interest asks for.
/// The driver script and its package live in tests/interop (.ci/run installs them with npm ci).
/// </summary>
public sealed class NpmNatsInteropTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartAsync("-n", "npm-up");
        _downstream = await NatsServerProcess.StartAsync("-n", "npm-down");
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Fact]
    public async Task The_npm_client_publishes_upstream_and_receives_downstream_through_our_link()
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(_downstream, "npm-down") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(_upstream, "npm-up") } };
        options.Policies["orders"] = new FederationPolicy { Pattern = "^orders$", Definition = { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()]);
        await engine.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow + Deadline;
        while (engine.GetLinks() is not [{ State: LinkState.Running }])
        {
            Assert.True(DateTime.UtcNow < deadline, "the link did not start: " + string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}")));
            await Task.Delay(PollInterval);
        }

        var (exitCode, output, error) = await NodeScript.RunAsync("nats", "nats-federated-roundtrip.mjs",
            _downstream.Port.ToString(CultureInfo.InvariantCulture), _upstream.Port.ToString(CultureInfo.InvariantCulture), _upstream.MonitorPort.ToString(CultureInfo.InvariantCulture),
            "", "", "orders.eu.*", "orders.eu.created", "hello from npm nats"); // no user, no password
        Assert.True(exitCode == 0, $"node exited with {exitCode}: {error}");

        using var received = JsonDocument.Parse(output.Trim().Split('\n').Last());
        Assert.Equal("orders.eu.created", received.RootElement.GetProperty("subject").GetString());
        Assert.Equal("hello from npm nats", received.RootElement.GetProperty("body").GetString());
        var hop = Assert.Single(received.RootElement.GetProperty("trail").EnumerateArray()).GetString()!;
        Assert.Contains("cluster-name=npm-up", hop, StringComparison.Ordinal);
        Assert.Contains("exchange=orders", hop, StringComparison.Ordinal);
    }

    private static string Uri(NatsServerProcess server, string cluster) =>
        $"{server.Url}?cluster-name={cluster}&monitor-port={server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders";


}
