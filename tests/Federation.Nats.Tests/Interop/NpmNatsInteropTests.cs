using System.Globalization;
using System.Text.Json;
using Federation.Core.Model;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Interop;

/// <summary>
/// A third-party client on both ends: the npm <c>nats</c> client publishes on the upstream server and subscribes on the
/// downstream server, and our link in between forwards exactly what the subscriber's interest asks for.
/// The driver script and its package live in tests/interop (.ci/run installs them with npm ci).
/// </summary>
public sealed class NpmNatsInteropTests() : NatsFederationTestbed("orders", "npm-up", "npm-down")
{
    [Fact]
    public async Task The_npm_client_publishes_upstream_and_receives_downstream_through_our_link()
    {
        var options = new FederationOptions { Downstream = { Uri = Uri(Downstream, "npm-down") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(Upstream, "npm-up") } };
        options.Policies["orders"] = new FederationPolicy { Pattern = "^orders$", Definition = { FederationUpstream = "up" } };
        await StartEngineAsync(options);

        var (exitCode, output, error) = await NodeScript.RunAsync("nats", "nats-federated-roundtrip.mjs",
            Downstream.Port.ToString(CultureInfo.InvariantCulture), Upstream.Port.ToString(CultureInfo.InvariantCulture), Upstream.MonitorPort.ToString(CultureInfo.InvariantCulture),
            "", "", "orders.eu.*", "orders.eu.created", "hello from npm nats"); // no user, no password
        Assert.True(exitCode == 0, $"node exited with {exitCode}: {error}");

        using var received = JsonDocument.Parse(output.Trim().Split('\n').Last());
        Assert.Equal("orders.eu.created", received.RootElement.GetProperty("subject").GetString());
        Assert.Equal("hello from npm nats", received.RootElement.GetProperty("body").GetString());
        var hop = Assert.Single(received.RootElement.GetProperty("trail").EnumerateArray()).GetString()!;
        Assert.Contains("cluster-name=npm-up", hop, StringComparison.Ordinal);
        Assert.Contains("exchange=orders", hop, StringComparison.Ordinal);
    }
}
