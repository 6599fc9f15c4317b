using System.Globalization;
using System.Text.Json;
using Federation.Testing.Brokers;

namespace FederationHost.Tests;

/// <summary>
/// The host, configured only with <c>nats://</c> URIs (the README's "Two local nats-servers" recipe), federates two real
/// nats-servers: the npm <c>nats</c> client publishes on the upstream (which requires a user and password) and receives
/// on the downstream, and <c>/federation/links</c> shows the link running with the credentials redacted.
/// </summary>
public sealed class NatsFederationHostTests : IAsyncLifetime
{
    private const string User = "federator";
    private const string Password = "nats-pa55-never-shown";
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartAsync("-n", "nats-a", "--user", User, "--pass", Password);
        _downstream = await NatsServerProcess.StartAsync("-n", "nats-b");
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Fact]
    public async Task Two_nats_servers_configured_by_uri_federate_and_the_link_shows_running_without_credentials()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Host:CreateInMemoryBrokers"] = "false",
            ["Federation:Downstream:uri"] = $"nats://127.0.0.1:{Port(_downstream.Port)}?monitor-port={Port(_downstream.MonitorPort)}&monitor-interval-ms=100&cluster-name=nats-b&namespaces=orders",
            ["Federation:Upstreams:nats-a:uri"] = $"nats://{User}:{Password}@127.0.0.1:{Port(_upstream.Port)}?cluster-name=nats-a",
            ["Federation:Upstreams:nats-a:max-hops"] = "1",
            ["Federation:Policies:orders:pattern"] = "^orders$",
            ["Federation:Policies:orders:apply-to"] = "exchanges",
            ["Federation:Policies:orders:definition:federation-upstream"] = "nats-a",
        };
        await using var host = await RunningHost.StartAsync(settings);

        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running NATS link");
        var link = links[0];
        Assert.Equal("orders", link.GetProperty("exchange").GetString());
        Assert.Equal("nats-a", link.GetProperty("upstream").GetString());
        Assert.Equal("orders", link.GetProperty("policy").GetString());
        Assert.Equal($"nats://127.0.0.1:{Port(_upstream.Port)}?cluster-name=nats-a", link.GetProperty("uri").GetString());
        var body = await host.Http.GetStringAsync("/federation/links");
        Assert.DoesNotContain(Password, body, StringComparison.Ordinal);
        Assert.DoesNotContain(User, body, StringComparison.Ordinal);

        var (exitCode, output, error) = await NodeScript.RunAsync("nats", "nats-federated-roundtrip.mjs",
            Port(_downstream.Port), Port(_upstream.Port), Port(_upstream.MonitorPort), User, Password, "orders.eu.*", "orders.eu.created", "hello from nats-a");
        Assert.True(exitCode == 0, $"node exited with {exitCode}: {error}");

        using var received = JsonDocument.Parse(output.Trim().Split('\n')[^1]);
        Assert.Equal("orders.eu.created", received.RootElement.GetProperty("subject").GetString());
        Assert.Equal("hello from nats-a", received.RootElement.GetProperty("body").GetString());
        var hop = Assert.Single(received.RootElement.GetProperty("trail").EnumerateArray()).GetString()!;
        Assert.Contains("cluster-name=nats-a", hop, StringComparison.Ordinal);
        Assert.Contains("exchange=orders", hop, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, hop, StringComparison.Ordinal);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
