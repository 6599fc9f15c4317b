using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.Transport.Messaging;
using Federation.Nats;
using Federation.Testing.Brokers;
using Microsoft.Extensions.DependencyInjection;

namespace FederationHost.Tests;

/// <summary>
/// The host binary, run as a process with only a <c>FederationBrokers</c> section, joins a collective on one real
/// nats-server to a federation on another (which requires a user and password): a <see cref="FederatedClient"/> on the
/// federation reaches a node on the collective through the host's broker instance and gets its reply; the instance is
/// listed on <c>/federation/brokers</c> without credentials. A server that is down at start does not stop the host: the
/// instance retries in the background, <c>/health</c> says unhealthy (503) naming it meanwhile, and healthy once it connects.
/// </summary>
public sealed class NatsFederationBrokersHostTests : IAsyncLifetime
{
    private const string User = "federator";
    private const string Password = "nats-broker-pa55-never-shown";
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(60);
    private NatsServerProcess _federation = null!;
    private NatsServerProcess _collective = null!;
    private ServiceProvider _transports = null!;

    public async Task InitializeAsync()
    {
        _federation = await NatsServerProcess.StartAsync("-n", "fed", "--user", User, "--pass", Password);
        _collective = await NatsServerProcess.StartAsync("-n", "london");
        var services = new ServiceCollection();
        services.AddInMemorySubjectTransport();
        services.AddNatsSubjectTransport();
        _transports = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _transports.DisposeAsync();
        await _federation.DisposeAsync();
        await _collective.DisposeAsync();
    }

    [Fact]
    public async Task A_federated_request_reaches_a_node_on_the_collective_server_through_the_host_and_the_reply_comes_back()
    {
        await using var host = HostProcess.Start(AppSettings());
        var url = await host.WaitForListeningAsync();
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
        var resolver = _transports.GetRequiredService<SubjectTransportResolver>();
        await using var node = await resolver.ConnectAsync(_collective.Url, "node n1", CancellationToken.None);
        await node.SubscribeAsync("mcollective.broadcast.agent.rpcutil", null, (request, token) =>
            node.ReplyAsync(request, Encoding.UTF8.GetBytes("n1: " + Encoding.UTF8.GetString(request.Body.Span)), null, token), CancellationToken.None);
        await using var federation = await resolver.ConnectAsync(FederationUri(), "client", CancellationToken.None);
        await using var client = new FederatedClient(federation, new FederatedClientOptions { Identity = "nats-test-client" });

        await Eventually.UntilAsync(() => BrokersAsync(http), b => b is [var only] && only.GetProperty("state").GetString() == "connected", "a connected broker instance", RecoveryTimeout);
        var result = await client.RequestAsync(
            new FederatedRequest { Federations = ["london"], Targets = ["mcollective.broadcast.agent.rpcutil"], Body = "ping"u8.ToArray(), ExpectedReplies = 1 },
            CancellationToken.None);

        Assert.True(result.Completed, $"the request timed out: {result.Reason}\n{host.Describe()}");
        Assert.Equal("n1: ping", Encoding.UTF8.GetString(Assert.Single(result.Replies).Body.Span));
        var broker = (await Eventually.UntilAsync(() => BrokersAsync(http), b => b is [var only] && only.GetProperty("published").GetInt64() >= 2, "the request and the reply published"))[0];
        Assert.Equal($"nats://127.0.0.1:{Port(_federation.Port)}", broker.GetProperty("federation_uri").GetString());
        var served = await http.GetStringAsync("/federation/brokers") + await http.GetStringAsync("/health") + await http.GetStringAsync("/metrics");
        Assert.Contains("federation_broker_messages_published", served, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, served + host.StandardOutput + host.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_down_at_start_leaves_the_host_running_degraded_until_the_instance_connects()
    {
        await _federation.StopAsync();
        await using var host = HostProcess.Start(AppSettings());
        var url = await host.WaitForListeningAsync();
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };

        using (var health = await http.GetAsync("/health"))
        {
            var body = await health.Content.ReadAsStringAsync();
            // Degraded (200), as an exchange link in error: the instance retries by itself, and a restart would fix nothing.
            Assert.True(health.StatusCode == HttpStatusCode.OK, body);
            Assert.Contains("\"Degraded\"", body, StringComparison.Ordinal);
            Assert.Contains("not connected, retrying", body, StringComparison.Ordinal);
            Assert.Contains("london/london-1", body, StringComparison.Ordinal);
            Assert.DoesNotContain(Password, body, StringComparison.Ordinal);
        }

        var broker = Assert.Single(await BrokersAsync(http));
        Assert.Equal("connecting", broker.GetProperty("state").GetString());
        Assert.NotEqual(JsonValueKind.Null, broker.GetProperty("error").ValueKind);

        await _federation.StartAsync();
        await Eventually.UntilAsync(
            () => http.GetStringAsync("/health"), s => s.Contains("\"Healthy\"", StringComparison.Ordinal), "healthy once the federation server is up", RecoveryTimeout);
        Assert.DoesNotContain(Password, host.StandardOutput + host.StandardError, StringComparison.Ordinal);
    }

    private string FederationUri() => $"nats://{User}:{Password}@127.0.0.1:{Port(_federation.Port)}";

    private string AppSettings() => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
          "FederationBrokers": {
            "london": {
              "FederationUri": "{{FederationUri()}}",
              "CollectiveUri": "{{_collective.Url}}",
              "InstanceName": "london-1"
            }
          }
        }
        """;

    private static async Task<JsonElement[]> BrokersAsync(HttpClient http) => await http.GetFromJsonAsync<JsonElement[]>("/federation/brokers") ?? [];

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
