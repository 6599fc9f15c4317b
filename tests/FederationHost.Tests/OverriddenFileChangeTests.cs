using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests;

/// <summary>
/// A settings file change that a later source (here the command line) overrides has no effect; the host says so, naming
/// the key and the source, instead of skipping the reload in silence.
/// </summary>
public sealed class OverriddenFileChangeTests : IDisposable
{
    private const int OverriddenFileChange = 5012;
    private readonly string _directory = Directory.CreateTempSubdirectory("federation-host-").FullName;

    private static string Settings(int prefetch, int maxHops) => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0" },
          "Logging": { "LogLevel": { "Default": "Warning" } },
          "Federation": {
            "Downstream": { "uri": "memory://overridden-local/%2f" },
            "Upstreams": { "remote": { "uri": "memory://overridden-remote/%2f", "prefetch-count": {{prefetch}}, "max-hops": {{maxHops}} } },
            "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "remote" } } }
          }
        }
        """;

    [Fact]
    public async Task A_file_change_hidden_by_the_command_line_is_logged_naming_the_key_and_the_source()
    {
        var path = Path.Combine(_directory, "appsettings.json");
        await File.WriteAllTextAsync(path, Settings(prefetch: 100, maxHops: 1));
        await using var app = FederationHostApp.Build(["--contentRoot", _directory, "--Federation:Upstreams:remote:prefetch-count=300"]);
        var logs = new CapturedLogs();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await app.StartAsync();

        // prefetch-count is hidden by the command line; max-hops is not, and is not listed.
        await File.WriteAllTextAsync(path, Settings(prefetch: 500, maxHops: 2));

        var warning = await Eventually.UntilAsync(
            () => Task.FromResult(logs.AtLeast(LogLevel.Warning).FirstOrDefault(r => r.EventId.Id == OverriddenFileChange)),
            r => r is not null,
            "a warning for the overridden prefetch-count",
            TimeSpan.FromSeconds(30));
        Assert.Contains(path, warning!.Message, StringComparison.Ordinal);
        Assert.Contains("Federation:Upstreams:remote:prefetch-count (the command line)", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("max-hops", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("500", warning.Message, StringComparison.Ordinal);
        Assert.Equal("300", app.Configuration["Federation:Upstreams:remote:prefetch-count"]);
        await app.StopAsync();
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
