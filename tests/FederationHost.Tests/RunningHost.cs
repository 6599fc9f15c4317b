using System.Net.Http.Json;
using System.Text.Json;
using Federation.Core.InMemory;
using Federation.Core.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests;

/// <summary>
/// The example host started in-process from its own composition code (<see cref="FederationHostApp.Build"/>), on a
/// real Kestrel listener bound to 127.0.0.1 with a port the OS picks (port 0: free by construction, no race), with
/// the configuration given here only (the shipped appsettings.json is removed so tests do not depend on it).
/// </summary>
public sealed class RunningHost : IAsyncDisposable
{
    private RunningHost(WebApplication app, ReloadableConfigurationSource configuration, HttpClient http)
    {
        App = app;
        Configuration = configuration;
        Http = http;
    }

    public WebApplication App { get; }

    public ReloadableConfigurationSource Configuration { get; }

    public HttpClient Http { get; }

    public InMemoryBrokerRegistry Brokers => App.Services.GetRequiredService<InMemoryBrokerRegistry>();

    /// <summary>Settings for a downstream <c>local</c> and an upstream <c>remote</c> (with credentials), federating <c>^federated\.</c>.</summary>
    public static Dictionary<string, string?> DefaultSettings(string prefix) => new()
    {
        ["Federation:ClusterName"] = $"{prefix}-local",
        ["Federation:Downstream:uri"] = $"memory://{prefix}-local/%2f",
        ["Federation:Upstreams:remote:uri"] = $"memory://federator:{Secret}@{prefix}-remote/%2f",
        ["Federation:Upstreams:remote:max-hops"] = "1",
        ["Federation:Policies:fed:pattern"] = "^federated\\.",
        ["Federation:Policies:fed:apply-to"] = "exchanges",
        ["Federation:Policies:fed:definition:federation-upstream-set"] = "all",
    };

    /// <summary>The upstream password used by <see cref="DefaultSettings"/>; it must never appear in any response.</summary>
    public const string Secret = "pa55-w0rd-never-shown";

    public static Task<RunningHost> StartAsync(IDictionary<string, string?> settings, CancellationToken cancellationToken = default) =>
        StartAsync(settings, logs: null, cancellationToken);

    /// <summary>Builds and starts the host; <paramref name="logs"/>, when given, receives every log entry from the start on.</summary>
    public static async Task<RunningHost> StartAsync(IDictionary<string, string?> settings, ILoggerProvider? logs, CancellationToken cancellationToken = default)
    {
        var values = new Dictionary<string, string?>(settings, StringComparer.OrdinalIgnoreCase);
        values.TryAdd("Host:Url", "http://127.0.0.1:0");
        values.TryAdd("Logging:LogLevel:Default", "Warning");
        var source = new ReloadableConfigurationSource(values);
        var app = FederationHostApp.Build([], configuration =>
        {
            configuration.Sources.Clear();
            configuration.Add(source);
        });
        if (logs is not null)
        {
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        }

        await app.StartAsync(cancellationToken);
        var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromSeconds(10) };
        return new RunningHost(app, source, http);
    }

    /// <summary>Declares an exchange on an in-memory broker, as an application would.</summary>
    public async Task<IBrokerConnection> DeclareExchangeAsync(string broker, string exchange, CancellationToken cancellationToken = default)
    {
        var connection = await Brokers.GetOrAdd(broker).ConnectAsync(cancellationToken: cancellationToken);
        await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic), cancellationToken);
        return connection;
    }

    public async Task<JsonElement[]> GetLinksAsync(string query = "")
    {
        var links = await Http.GetFromJsonAsync<JsonElement[]>("/federation/links" + query);
        return links ?? [];
    }

    public Task<string> GetMetricsAsync() => Http.GetStringAsync("/metrics");

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
