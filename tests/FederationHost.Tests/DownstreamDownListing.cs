using System.Net;
using System.Text.Json;
using FederationHost.Cli;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FederationHost.Tests;

/// <summary>
/// What a host whose downstream is not connected must show: every link it knows listed with the downstream's error, in
/// <c>/federation/links</c>, its <c>?only-down=true</c> and <c>status --only-down</c>; <c>/health</c> at 503; no password
/// anywhere; and a host that goes on retrying instead of exiting.
/// </summary>
internal static class DownstreamDownListing
{
    public const string NotConnected = "The downstream broker is not connected: ";

    // Under CPU load a first failed attempt (a DNS lookup, a TLS handshake refused) can take a while.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Polls <c>/federation/links</c> until it lists exactly the links on <paramref name="exchanges"/>, each with the
    /// downstream's error naming <paramref name="problem"/>, then checks the other views; returns the links.
    /// </summary>
    public static async Task<JsonElement[]> AssertEveryLinkListedAsync(RunningHost host, IReadOnlyCollection<string> exchanges, string problem, params string[] secrets)
    {
        var body = await Eventually.UntilAsync(
            () => host.Http.GetStringAsync("/federation/links"),
            text => Links(text) is var links && links.Length == exchanges.Count && links.All(l => ErrorOf(l) is { } e && e.StartsWith(NotConnected, StringComparison.Ordinal) && e.Contains(problem, StringComparison.OrdinalIgnoreCase)),
            $"the links on {string.Join(", ", exchanges)} listed with the downstream's error naming '{problem}'",
            Deadline);
        var listed = Links(body);
        Assert.Equal(exchanges.Order(StringComparer.Ordinal), listed.Select(l => l.GetProperty("exchange").GetString()!).Order(StringComparer.Ordinal));
        AssertNoSecret(body, secrets);

        var down = await host.GetLinksAsync("?only-down=true");
        Assert.Equal(Ids(listed), Ids(down));

        var (exit, output, error) = await StatusAsync(host, "--only-down");
        Assert.True(exit == 0, error);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).Skip(2).ToArray();
        Assert.True(rows.Length == exchanges.Count, output);
        foreach (var row in rows)
        {
            var cell = StatusCommand.Columns.Zip(row.Split('\t')).ToDictionary(c => c.First, c => c.Second);
            Assert.Contains(cell["id"], Ids(listed));
            Assert.StartsWith(NotConnected, cell["error"], StringComparison.Ordinal);
            Assert.Contains(problem, cell["error"], StringComparison.OrdinalIgnoreCase);
        }

        AssertNoSecret(output + error, secrets);
        await AssertUnhealthyAsync(host, problem, secrets);
        return listed;
    }

    /// <summary>A host that knows no link (its downstream never reached): none listed, and <c>status</c> says why on stderr.</summary>
    public static async Task AssertNoLinkKnownAsync(RunningHost host, string problem, params string[] secrets)
    {
        await AssertUnhealthyAsync(host, problem, secrets);
        Assert.Empty(await host.GetLinksAsync());
        Assert.Empty(await host.GetLinksAsync("?only-down=true"));

        foreach (var args in new[] { new[] { "--only-down" }, [] })
        {
            var (exit, output, error) = await StatusAsync(host, args);
            Assert.True(exit == 0, error);
            Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // the title and the header
            var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)).TrimEnd('\r');
            Assert.StartsWith("status: " + NotConnected, line, StringComparison.Ordinal);
            Assert.Contains(problem, line, StringComparison.OrdinalIgnoreCase);
            Assert.EndsWith("no link is known until the host reaches its downstream: links follow the downstream's exchanges", line, StringComparison.Ordinal);
            AssertNoSecret(output + error, secrets);
        }
    }

    /// <summary>
    /// The host goes on trying its downstream (attempts are logged at debug, event 2008, when the settings let
    /// <c>Federation.Core</c> log at debug) and keeps running.
    /// </summary>
    public static async Task AssertStillRetryingAsync(RunningHost host)
    {
        await Eventually.UntilAsync(
            () => Task.FromResult(host.Logs.Records.Count(r => r.EventId.Id == 2008)),
            attempts => attempts >= 2,
            "a second downstream attempt (event 2008)",
            Deadline);
        Assert.False(host.App.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested, "the host is stopping");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await host.Http.GetAsync("/health")).StatusCode);
    }

    /// <summary>The settings that make the supervisor log each downstream attempt (event 2008) for <see cref="AssertStillRetryingAsync"/>.</summary>
    public static KeyValuePair<string, string?> DebugAttempts => new("Logging:LogLevel:Federation.Core.LinkSupervisor", "Debug");

    public static async Task<(int Exit, string Output, string Error)> StatusAsync(RunningHost host, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await HostCommands.RunAsync(["status", .. args, "--url", host.App.Urls.Single()], output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static async Task AssertUnhealthyAsync(RunningHost host, string problem, string[] secrets)
    {
        var (status, health) = await Eventually.UntilAsync(
            async () =>
            {
                using var response = await host.Http.GetAsync("/health");
                return (response.StatusCode, await response.Content.ReadAsStringAsync());
            },
            h => h.StatusCode == HttpStatusCode.ServiceUnavailable && h.Item2.Contains(problem, StringComparison.OrdinalIgnoreCase),
            $"/health at 503 naming '{problem}'",
            Deadline);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        AssertNoSecret(health, secrets);
    }

    private static JsonElement[] Links(string body)
    {
        using var document = JsonDocument.Parse(body);
        return [.. document.RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    private static string? ErrorOf(JsonElement link) => link.GetProperty("error").GetString();

    private static string[] Ids(IEnumerable<JsonElement> links) => [.. links.Select(l => l.GetProperty("id").GetString()!).Order(StringComparer.Ordinal)];

    private static void AssertNoSecret(string text, string[] secrets)
    {
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }
    }
}
