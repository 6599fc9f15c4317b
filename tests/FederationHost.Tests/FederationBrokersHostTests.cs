using System.Net;
using System.Text;
using System.Text.Json;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.DependencyInjection;

namespace FederationHost.Tests;

/// <summary>
/// The host runs Federation of Collectives broker instances from its <c>FederationBrokers</c> section alone, on the
/// in-memory bus (the servers <c>memory://</c> URIs name are created, as <c>Host:CreateInMemoryBrokers</c> does for links):
/// without a <c>Federation</c> section it starts with no exchange federation, carries a federated request to a node and its
/// reply back, and shows the instance in <c>/federation/brokers</c>, <c>/health</c> and <c>/metrics</c>. With a Federation
/// section too, it runs both.
/// </summary>
public sealed class FederationBrokersHostTests
{
    private const int InvalidBrokerSettings = 5006;
    private const int BrokerSettingsNeedRestart = 5007;
    private const int ExchangeFederationNeedsRestart = 5008;

    private static Dictionary<string, string?> BrokerSettings(string prefix) => new()
    {
        ["FederationBrokers:london:FederationUri"] = $"memory://broker:{RunningHost.Secret}@{prefix}-federation",
        ["FederationBrokers:london:CollectiveUri"] = $"memory://{prefix}-london",
        ["FederationBrokers:london:InstanceName"] = $"{prefix}-london-1",
        ["FederationBrokers:london:Workers"] = "2",
    };

    [Fact]
    public async Task A_host_with_only_a_broker_instance_carries_a_federated_request_to_a_node_and_the_reply_back()
    {
        var settings = BrokerSettings("fb-only");
        settings["Logging:LogLevel:FederationHost"] = "Information"; // the start line
        await using var host = await RunningHost.StartAsync(settings);
        var transports = host.App.Services.GetRequiredService<SubjectTransportResolver>();
        await using var node = await transports.ConnectAsync("memory://fb-only-london", "node", CancellationToken.None);
        await node.SubscribeAsync("mcollective.node.n1", null, (request, token) => node.ReplyAsync(request, Encoding.UTF8.GetBytes("pong n1"), null, token), CancellationToken.None);
        await using var federation = await transports.ConnectAsync("memory://fb-only-federation", "client", CancellationToken.None);
        await using var client = new FederatedClient(federation, new FederatedClientOptions { Identity = "test-client" });

        // The instance connects in the background: until it serves, a request goes unanswered.
        await Eventually.UntilAsync(() => BrokersAsync(host), b => b is [var only] && only.GetProperty("state").GetString() == "connected", "a connected broker instance");

        // A scrape shows the instance before it has carried anything (the counters appear only once added to).
        var before = await host.GetMetricsAsync();
        Assert.DoesNotContain("federation_broker_messages_received", before, StringComparison.Ordinal);
        Assert.Contains("federation_broker_instances{", before, StringComparison.Ordinal);
        Assert.Contains(before.Split('\n'), line => line.StartsWith("federation_broker_instances{", StringComparison.Ordinal)
            && line.Contains("federation_broker_instance=\"fb-only-london-1\"", StringComparison.Ordinal)
            && line.Contains("federation_broker_state=\"connected\"", StringComparison.Ordinal) && line.EndsWith(" 1", StringComparison.Ordinal));

        // The start line says what the host runs: no "downstream (none), 0 upstream(s)".
        var started = Assert.Single(host.Logs.Records, r => r.EventId.Id == 5013);
        Assert.Contains("1 federation broker instance(s) (london) and no exchange federation", started.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(host.Logs.Records, r => r.EventId.Id == 5000);
        var result = await client.RequestAsync(
            new FederatedRequest { Federations = ["london"], Targets = ["mcollective.node.n1"], Body = "ping"u8.ToArray(), ExpectedReplies = 1 },
            CancellationToken.None);

        Assert.True(result.Completed, $"the request timed out: {result.Reason}");
        Assert.Equal("pong n1", Encoding.UTF8.GetString(Assert.Single(result.Replies).Body.Span));

        var broker = (await Eventually.UntilAsync(() => BrokersAsync(host), b => b is [var only] && only.GetProperty("replies_received").GetInt64() >= 1, "the reply counted"))[0];
        Assert.Equal("london", broker.GetProperty("name").GetString());
        Assert.Equal("london", broker.GetProperty("cluster").GetString());
        Assert.Equal("fb-only-london-1", broker.GetProperty("instance").GetString());
        Assert.Equal("memory://fb-only-federation", broker.GetProperty("federation_uri").GetString());
        Assert.Equal("native", broker.GetProperty("envelope").GetString());
        Assert.Equal(2, broker.GetProperty("workers").GetInt32());
        Assert.True(broker.GetProperty("requests_received").GetInt64() >= 1);
        Assert.Equal(JsonValueKind.Null, broker.GetProperty("cluster_problem").ValueKind);

        Assert.Empty(await host.GetLinksAsync());
        using var health = await host.Http.GetAsync("/health");
        var healthBody = await health.Content.ReadAsStringAsync();
        Assert.True(health.StatusCode == HttpStatusCode.OK, healthBody);
        Assert.Contains("\"Healthy\"", healthBody, StringComparison.Ordinal);
        Assert.Contains("all connected", healthBody, StringComparison.Ordinal);

        var metrics = await Eventually.UntilAsync(() => host.GetMetricsAsync(), m => m.Contains("federation_broker_messages_received", StringComparison.Ordinal), "broker metrics on /metrics");
        Assert.Contains("fb-only-london-1", metrics, StringComparison.Ordinal);
        var served = await host.Http.GetStringAsync("/federation/brokers") + healthBody + metrics + host.Logs.Text;
        Assert.DoesNotContain(RunningHost.Secret, served, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_with_links_and_a_broker_instance_runs_both_and_its_health_covers_both()
    {
        var settings = RunningHost.DefaultSettings("fb-both");
        foreach (var (key, value) in BrokerSettings("fb-both"))
        {
            settings[key] = value;
        }

        await using var host = await RunningHost.StartAsync(settings);
        await using var app = await host.DeclareExchangeAsync("fb-both-local", "federated.orders");

        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        await Eventually.UntilAsync(() => BrokersAsync(host), b => b is [var only] && only.GetProperty("state").GetString() == "connected", "a connected broker instance");
        var health = await Eventually.UntilAsync(() => host.Http.GetStringAsync("/health"), b => b.Contains("\"Healthy\"", StringComparison.Ordinal), "healthy");
        using var document = JsonDocument.Parse(health);
        Assert.Equal(1, document.RootElement.GetProperty("data").GetProperty("brokers").GetProperty("connected").GetInt32());
    }

    [Fact]
    public async Task A_change_of_the_broker_section_on_reload_is_a_warning_that_a_restart_is_needed_and_the_instance_runs_on()
    {
        await using var host = await RunningHost.StartAsync(BrokerSettings("fb-reload"));
        await Eventually.UntilAsync(() => BrokersAsync(host), b => b is [var only] && only.GetProperty("state").GetString() == "connected", "a connected broker instance");

        host.Configuration.Update(new Dictionary<string, string?> { ["FederationBrokers:london:Workers"] = "4" });

        var warning = await Eventually.UntilAsync(
            () => Task.FromResult(host.Logs.Warnings.FirstOrDefault(r => r.EventId.Id == BrokerSettingsNeedRestart)), r => r is not null, "a restart warning");
        Assert.Contains("read at start only", warning!.Message, StringComparison.Ordinal);
        var broker = Assert.Single(await BrokersAsync(host));
        Assert.Equal(2, broker.GetProperty("workers").GetInt32());
        Assert.Equal("connected", broker.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_mistake_in_the_broker_section_on_reload_is_a_warning_naming_the_key_without_credentials()
    {
        await using var host = await RunningHost.StartAsync(BrokerSettings("fb-bad-reload"));
        await Eventually.UntilAsync(() => BrokersAsync(host), b => b is [var only] && only.GetProperty("state").GetString() == "connected", "a connected broker instance");

        host.Configuration.Update(new Dictionary<string, string?>
        {
            ["FederationBrokers:london:Envelop"] = "choria",
            ["FederationBrokers:london:CollectiveUri"] = $"nats://node:{RunningHost.Secret}@127.0.0.1:4222?foo=1",
        });

        var warning = await Eventually.UntilAsync(
            () => Task.FromResult(host.Logs.Warnings.FirstOrDefault(r => r.EventId.Id == InvalidBrokerSettings)), r => r is not null, "a warning for the broker section");
        Assert.Contains("FederationBrokers:london:Envelop: is not a federation broker setting", warning!.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:london:CollectiveUri: Unknown query parameter 'foo'", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(RunningHost.Secret, host.Logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(host.Logs.Warnings, r => r.EventId.Id == BrokerSettingsNeedRestart);
        Assert.Equal("connected", Assert.Single(await BrokersAsync(host)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_Federation_section_added_on_reload_to_a_host_with_broker_instances_only_is_a_warning_that_a_restart_is_needed()
    {
        await using var host = await RunningHost.StartAsync(BrokerSettings("fb-add-federation"));

        host.Configuration.Update(new Dictionary<string, string?> { ["Federation:Downstream:uri"] = "memory://fb-add-federation-local/%2f" });

        var warning = await Eventually.UntilAsync(
            () => Task.FromResult(host.Logs.Warnings.FirstOrDefault(r => r.EventId.Id == ExchangeFederationNeedsRestart)), r => r is not null, "a restart warning");
        Assert.Contains("started without exchange federation", warning!.Message, StringComparison.Ordinal);
        Assert.Empty(await host.GetLinksAsync());
    }

    internal static async Task<JsonElement[]> BrokersAsync(RunningHost host) =>
        await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<JsonElement[]>(host.Http, "/federation/brokers") ?? [];
}
