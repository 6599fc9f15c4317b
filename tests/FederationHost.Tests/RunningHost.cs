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
/// every log record captured. Configured either from a <see cref="ReloadableConfigurationSource"/> only (the shipped
/// appsettings.json is removed so tests do not depend on it), or from a real appsettings.json in a content root (the
/// host's own file loading, reloadOnChange included).
/// </summary>
public sealed class RunningHost : IAsyncDisposable
{
    // Bounds the stop so that a host that does not stop fails the test instead of hanging it.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly ReloadableConfigurationSource? _configuration;

    private RunningHost(WebApplication app, ReloadableConfigurationSource? configuration, CapturedLogs logs)
    {
        App = app;
        _configuration = configuration;
        Logs = logs;
        Http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromSeconds(10) };
    }

    public WebApplication App { get; }

    /// <summary>The configuration the host runs on; not available for a host started from a content root.</summary>
    public ReloadableConfigurationSource Configuration =>
        _configuration ?? throw new InvalidOperationException("This host reads appsettings.json from its content root; change the file instead.");

    /// <summary>Every record the host logged (after its own level filters).</summary>
    public CapturedLogs Logs { get; }

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

    /// <summary>Starts the host on <paramref name="settings"/>, with <c>Host:Url</c> on port 0 and warning-level logging unless they say otherwise.</summary>
    public static Task<RunningHost> StartAsync(IDictionary<string, string?> settings, CancellationToken cancellationToken = default) =>
        StartAsync(settings, logs: null, cancellationToken);

    /// <summary>
    /// As <see cref="StartAsync(IDictionary{string, string?}, CancellationToken)"/>, capturing the log in <paramref name="logs"/>
    /// (so that a host that fails to start can still be inspected); a new capture when null.
    /// </summary>
    public static Task<RunningHost> StartAsync(IDictionary<string, string?> settings, CapturedLogs? logs, CancellationToken cancellationToken = default)
    {
        var values = new Dictionary<string, string?>(settings, StringComparer.OrdinalIgnoreCase);
        values.TryAdd("Host:Url", "http://127.0.0.1:0");
        values.TryAdd("Logging:LogLevel:Default", "Warning");
        return StartAsync(new ReloadableConfigurationSource(values), logs, cancellationToken);
    }

    /// <summary>Starts the host on <paramref name="source"/> only (no appsettings.json, no environment, no defaults).</summary>
    public static Task<RunningHost> StartAsync(ReloadableConfigurationSource source, CancellationToken cancellationToken = default) =>
        StartAsync(source, logs: null, cancellationToken);

    private static Task<RunningHost> StartAsync(ReloadableConfigurationSource source, CapturedLogs? logs, CancellationToken cancellationToken) =>
        StartAsync(
            [],
            configuration =>
            {
                configuration.Sources.Clear();
                configuration.Add(source);
            },
            source,
            logs,
            cancellationToken);

    /// <summary>Starts the host as the binary would, reading appsettings.json from <paramref name="contentRoot"/>.</summary>
    public static Task<RunningHost> StartInContentRootAsync(string contentRoot, CancellationToken cancellationToken = default) =>
        StartAsync(["--contentRoot", contentRoot], null, null, null, cancellationToken);

    /// <summary>Declares a topic exchange on an in-memory broker, as an application would, and keeps the connection open.</summary>
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

    /// <summary>The link list, health and metrics as served, for secret checks.</summary>
    public async Task<string> GetServedTextAsync()
    {
        var links = await Http.GetStringAsync("/federation/links");
        var health = await (await Http.GetAsync("/health")).Content.ReadAsStringAsync();
        var metrics = await GetMetricsAsync();
        return $"--- /federation/links\n{links}\n--- /health\n{health}\n--- /metrics\n{metrics}";
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var stop = new CancellationTokenSource(StopTimeout);
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }

    private static async Task<RunningHost> StartAsync(string[] args, Action<IConfigurationBuilder>? configure, ReloadableConfigurationSource? source, CapturedLogs? logs, CancellationToken cancellationToken)
    {
        var app = FederationHostApp.Build(args, configure);
        logs ??= new CapturedLogs();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await app.StartAsync(cancellationToken);
        return new RunningHost(app, source, logs);
    }
}
