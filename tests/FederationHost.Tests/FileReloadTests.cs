using System.Net.Http.Json;
using System.Text.Json;
using Federation.Core.InMemory;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

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

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
