using System.Net.Http.Json;
using System.Text.Json;
using Federation.Core.InMemory;
using Federation.Core.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// The host's own composition (<see cref="FederationHostApp.Build"/>) started in this process on 127.0.0.1 port 0, with a
/// log capture, configured either from a <see cref="ReplaceableConfigurationSource"/> or from a real appsettings.json in
/// a content root (the host's own file loading, reloadOnChange included).
/// </summary>
public sealed class InProcessHost : IAsyncDisposable
{
    private InProcessHost(WebApplication app, LogCapture logs)
    {
        App = app;
        Logs = logs;
        Http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromSeconds(10) };
    }

    public WebApplication App { get; }

    public LogCapture Logs { get; }

    public HttpClient Http { get; }

    public InMemoryBrokerRegistry Brokers => App.Services.GetRequiredService<InMemoryBrokerRegistry>();

    /// <summary>Starts the host on <paramref name="source"/> only (no appsettings.json, no environment).</summary>
    public static Task<InProcessHost> StartAsync(ReplaceableConfigurationSource source) =>
        StartAsync([], configuration =>
        {
            configuration.Sources.Clear();
            configuration.Add(source);
        });

    /// <summary>Starts the host as the binary would, reading appsettings.json from <paramref name="contentRoot"/>.</summary>
    public static Task<InProcessHost> StartInContentRootAsync(string contentRoot) => StartAsync(["--contentRoot", contentRoot], null);

    /// <summary>Declares a topic exchange on an in-memory broker, as an application would, and keeps the connection open.</summary>
    public async Task<IBrokerConnection> DeclareExchangeAsync(string broker, string exchange)
    {
        var connection = await Brokers.GetOrAdd(broker).ConnectAsync();
        await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic), CancellationToken.None);
        return connection;
    }

    public async Task<JsonElement[]> GetLinksAsync() =>
        await Http.GetFromJsonAsync<JsonElement[]>("/federation/links") ?? [];

    /// <summary>The link list, health and metrics as served, for secret checks.</summary>
    public async Task<string> GetServedTextAsync()
    {
        var links = await Http.GetStringAsync("/federation/links");
        var health = await (await Http.GetAsync("/health")).Content.ReadAsStringAsync();
        var metrics = await Http.GetStringAsync("/metrics");
        return $"--- /federation/links\n{links}\n--- /health\n{health}\n--- /metrics\n{metrics}";
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }

    private static async Task<InProcessHost> StartAsync(string[] args, Action<IConfigurationBuilder>? configure)
    {
        var app = FederationHostApp.Build(args, configure);
        var logs = new LogCapture();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await app.StartAsync();
        return new InProcessHost(app, logs);
    }
}
