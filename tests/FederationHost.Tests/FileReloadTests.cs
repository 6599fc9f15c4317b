using System.Net.Http.Json;
using System.Text.Json;
using Federation.Core.InMemory;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using FederationHost.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests;

/// <summary>An appsettings file rewritten while the host runs reconfigures federation (reloadOnChange).</summary>
public sealed class FileReloadTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("federation-host-").FullName;

    private const string Initial = """
        {
          "Host": { "Url": "http://127.0.0.1:0" },
          "Logging": { "LogLevel": { "Default": "Warning" } },
          "Federation": {
            "Downstream": { "uri": "memory://file-local/%2f" },
            "Upstreams": { "remote": { "uri": "memory://file-remote/%2f" } }
          }
        }
        """;

    private const string WithPolicy = """
        {
          "Host": { "Url": "http://127.0.0.1:0" },
          "Logging": { "LogLevel": { "Default": "Warning" } },
          "Federation": {
            "Downstream": { "uri": "memory://file-local/%2f" },
            "Upstreams": { "remote": { "uri": "memory://file-remote/%2f" } },
            "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "remote" } } }
          }
        }
        """;

    [Fact]
    public async Task Rewriting_the_settings_file_starts_a_link()
    {
        var path = Path.Combine(_directory, "appsettings.json");
        await File.WriteAllTextAsync(path, Initial);
        await using var app = FederationHostApp.Build([], configuration =>
        {
            configuration.Sources.Clear();
            configuration.AddJsonFile(path, optional: false, reloadOnChange: true);
        });
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        var registry = app.Services.GetRequiredService<InMemoryBrokerRegistry>();
        await using var connection = await registry.GetOrAdd("file-local").ConnectAsync();
        await connection.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        Assert.Empty((await http.GetFromJsonAsync<JsonElement[]>("/federation/links"))!);

        await File.WriteAllTextAsync(path, WithPolicy);

        await Eventually.UntilAsync(
            async () => (await http.GetFromJsonAsync<JsonElement[]>("/federation/links"))!,
            l => l is [var only] && only.GetProperty("state").GetString() == "running",
            "a link started by the rewritten file",
            TimeSpan.FromSeconds(30));
        await app.StopAsync();
    }

    [Fact]
    public async Task Invalid_json_is_refused_with_a_warning_and_a_later_unrelated_change_keeps_the_running_configuration()
    {
        // The host's own composition with a real content root: CreateBuilder's appsettings.json and
        // appsettings.Production.json sources, replaced by last-good ones.
        await File.WriteAllTextAsync(Path.Combine(_directory, "appsettings.json"), WithPolicy);
        await using var app = FederationHostApp.Build(["--contentRoot", _directory, "--environment", "Production"]);
        var logs = new CapturedLogs();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        var lastGood = ((IConfigurationRoot)app.Configuration).Providers.OfType<LastGoodJsonConfigurationProvider>().Select(p => Path.GetFileName(p.FileName)).ToList();
        Assert.Contains("appsettings.json", lastGood);
        Assert.Contains("appsettings.Production.json", lastGood);
        Assert.DoesNotContain(((IConfigurationRoot)app.Configuration).Providers, p => p.GetType() == typeof(Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider));
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
        var registry = app.Services.GetRequiredService<InMemoryBrokerRegistry>();
        await using var connection = await registry.GetOrAdd("file-local").ConnectAsync();
        await connection.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var running = await Eventually.UntilAsync(
            async () => (await http.GetFromJsonAsync<JsonElement[]>("/federation/links"))!,
            l => l is [var only] && only.GetProperty("state").GetString() == "running",
            "a running link",
            TimeSpan.FromSeconds(30));
        var link = (Id: running[0].GetProperty("id").GetString(), Since: running[0].GetProperty("since").GetString());

        await File.WriteAllTextAsync(Path.Combine(_directory, "appsettings.json"), """{ "Federation": { "Downstream": """);

        var warning = await Eventually.UntilAsync(
            () => Task.FromResult(logs.AtLeast(LogLevel.Warning).FirstOrDefault(r => r.EventId.Id == 5003)),
            r => r is not null,
            "a warning for the refused appsettings.json",
            TimeSpan.FromSeconds(30));
        Assert.Contains(Path.Combine(_directory, "appsettings.json"), warning!.Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", warning.Message, StringComparison.Ordinal);

        // An unrelated change reloads the configuration as a whole; it must not bring in an emptied appsettings.json.
        await File.WriteAllTextAsync(Path.Combine(_directory, "appsettings.Production.json"), """{ "Unrelated": "change" }""");
        await Eventually.UntilAsync(
            () => Task.FromResult(app.Configuration["Unrelated"]), v => v == "change", "the unrelated file applied", TimeSpan.FromSeconds(30));

        Assert.Equal("memory://file-local/%2f", app.Configuration["Federation:Downstream:uri"]);
        Assert.Equal("^federated\\.", app.Configuration["Federation:Policies:fed:pattern"]);
        var after = (await http.GetFromJsonAsync<JsonElement[]>("/federation/links"))!;
        var same = Assert.Single(after);
        Assert.Equal(link.Id, same.GetProperty("id").GetString());
        Assert.Equal("running", same.GetProperty("state").GetString());
        Assert.Equal(link.Since, same.GetProperty("since").GetString());
        Assert.DoesNotContain(logs.Records, r => r.Message.Contains("upstream objects deleted", StringComparison.Ordinal));
        await app.StopAsync();
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
