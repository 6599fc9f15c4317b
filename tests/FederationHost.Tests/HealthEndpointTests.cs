using System.Net;
using System.Text.Json;

namespace FederationHost.Tests;

/// <summary><c>/health</c> maps the federation health check onto HTTP status codes.</summary>
public sealed class HealthEndpointTests
{
    [Fact]
    public async Task Health_is_200_healthy_when_the_downstream_is_connected()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("healthy"));
        await using var app = await host.DeclareExchangeAsync("healthy-local", "federated.orders");
        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");

        using var response = await host.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
        Assert.Contains("healthy-local", body.RootElement.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, body.RootElement.GetProperty("data").GetProperty("running").GetInt32());
    }

    [Fact]
    public async Task Health_is_503_unhealthy_when_the_downstream_is_missing()
    {
        var settings = RunningHost.DefaultSettings("unhealthy");
        // Without on-demand brokers the configured downstream does not exist.
        settings["Host:CreateInMemoryBrokers"] = "false";
        await using var host = await RunningHost.StartAsync(settings);

        using var response = await host.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Unhealthy", body.RootElement.GetProperty("status").GetString());
        Assert.Contains("downstream", body.RootElement.GetProperty("description").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Health_is_200_degraded_while_a_link_is_in_error()
    {
        var settings = RunningHost.DefaultSettings("degraded");
        settings["Federation:Upstreams:remote:uri"] = "memory://degraded-remote/no-such-vhost";
        await using var host = await RunningHost.StartAsync(settings);
        await using var app = await host.DeclareExchangeAsync("degraded-local", "federated.orders");

        var body = await Eventually.UntilAsync(
            async () => await host.Http.GetStringAsync("/health"), b => b.Contains("\"Degraded\"", StringComparison.Ordinal), "degraded health");
        Assert.Contains("federated.orders <- remote", body, StringComparison.Ordinal);
    }
}
