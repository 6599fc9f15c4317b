using System.Net.Http.Json;
using System.Text.Json;

namespace FederationHost.Tests;

/// <summary>The built host, run as a process, refuses an unreadable appsettings.json on reload and keeps running as before.</summary>
public sealed class RefusedReloadProcessTests
{
    private const string Settings = """
        {
          "Host": { "Url": "http://127.0.0.1:0", "Demo": { "Exchanges": [ "federated.orders" ] } },
          "Logging": { "LogLevel": { "Default": "Warning", "Microsoft.Hosting.Lifetime": "Information" } },
          "Federation": {
            "Downstream": { "uri": "memory://reload-local/%2f" },
            "Upstreams": { "remote": { "uri": "memory://reload-remote/%2f" } },
            "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "remote" } } }
          }
        }
        """;

    [Theory]
    [InlineData("""{ "Federation": { "Downstream": """, "not valid JSON")]
    [InlineData("""{ "Federation": { "ClusterName": "a", "clustername": "b" } }""", "A duplicate key 'Federation:clustername' was found")]
    [InlineData("", "the file is empty")]
    public async Task An_unreadable_settings_file_is_refused_with_a_warning_and_the_link_keeps_running(string content, string problem)
    {
        await using var host = HostProcess.Start(Settings);
        using var http = new HttpClient { BaseAddress = await host.WaitForListeningAsync(), Timeout = TimeSpan.FromSeconds(30) };
        var before = await Eventually.UntilAsync(
            async () => (await http.GetFromJsonAsync<JsonElement[]>("/federation/links"))!,
            l => l is [var only] && only.GetProperty("state").GetString() == "running",
            "the demo link running");

        await host.WriteAppSettingsAsync(content);

        await host.WaitForOutputAsync("changed but cannot be used");
        Assert.Contains(problem, host.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(host.ContentRoot, "appsettings.json"), host.StandardOutput, StringComparison.Ordinal);
        var after = Assert.Single((await http.GetFromJsonAsync<JsonElement[]>("/federation/links"))!);
        Assert.Equal(before[0].GetProperty("id").GetString(), after.GetProperty("id").GetString());
        Assert.Equal(before[0].GetProperty("since").GetString(), after.GetProperty("since").GetString());
        Assert.Equal("running", after.GetProperty("state").GetString());
        Assert.Empty(HostProcess.StackTraceLines(host.StandardOutput + host.StandardError));

        await host.TerminateAsync();
        Assert.Equal(0, await host.WaitForExitAsync());
    }
}
