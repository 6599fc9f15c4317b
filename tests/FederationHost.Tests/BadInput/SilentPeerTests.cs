using System.Globalization;
using System.Text.Json;
using Federation.Testing.Brokers;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// A peer that accepts TCP and never answers, as downstream or upstream of the built host process: the link is in
/// <c>error</c> within its deadline and listed by <c>?only-down=true</c>, SIGTERM stops the host with exit code 0 and
/// no unhandled exception, and the URI's secret shows nowhere.
/// </summary>
public sealed class SilentPeerTests
{
    private const string Secret = "s1lent-S3cret-never-shown";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);

    /// <summary>URIs of the silent peer (<c>{port}</c>) with a secret.</summary>
    public static TheoryData<string> SilentUris => new()
    {
        "amqp://federator:" + Secret + "@127.0.0.1:{port}/%2f?connection_timeout=2000",
        "nats://federator:" + Secret + "@127.0.0.1:{port}",
    };

    [Theory]
    [MemberData(nameof(SilentUris))]
    public async Task A_silent_downstream_does_not_stop_SIGTERM(string template)
    {
        await using var peer = new SilentPeer();
        var settings = SettingsDocument.Good.WithString("Federation:Downstream:uri", Fill(template, peer.Port));
        await using var host = HostProcess.Start(settings.Text);
        await WaitStartedAsync(host);

        await host.TerminateAsync();
        var code = await host.TryWaitForExitAsync(StopDeadline);
        AssertCleanStop(host, code);
    }

    [Theory]
    [MemberData(nameof(SilentUris))]
    public async Task A_silent_upstream_puts_its_link_in_error_and_does_not_stop_SIGTERM(string template)
    {
        await using var peer = new SilentPeer();
        var settings = SettingsDocument.Good.WithString("Federation:Upstreams:origin:uri", Fill(template, peer.Port));
        await using var host = HostProcess.Start(settings.Text);
        await WaitStartedAsync(host);

        using (var http = new HttpClient { BaseAddress = new Uri(host.ListeningUrl!), Timeout = TimeSpan.FromSeconds(10) })
        {
            var down = await Eventually.UntilAsync(
                () => http.GetStringAsync("/federation/links?only-down=true"),
                body => JsonDocument.Parse(body).RootElement.EnumerateArray().Any(l => l.GetProperty("state").GetString() == "error"),
                "the link to the silent upstream in error and listed by ?only-down=true",
                TimeSpan.FromSeconds(30));
            OutputChecks.NoSecret(down, [Secret], "/federation/links?only-down=true");
            OutputChecks.NoSecret(await (await http.GetAsync("/health")).Content.ReadAsStringAsync(), [Secret], "/health");
        }

        await host.TerminateAsync();
        var code = await host.TryWaitForExitAsync(StopDeadline);
        AssertCleanStop(host, code);
    }

    private static async Task WaitStartedAsync(HostProcess host)
    {
        var exited = await host.WaitForExitOrAsync(h => h.ListeningUrl is not null, StartDeadline);
        Assert.False(exited, $"The host did not start.\n--- stdout\n{host.StandardOutput}\n--- stderr\n{host.StandardError}");
        Assert.NotNull(host.ListeningUrl);
    }

    private static void AssertCleanStop(HostProcess host, int? code)
    {
        var output = $"--- stdout\n{host.StandardOutput}\n--- stderr\n{host.StandardError}";
        Assert.True(code == 0, $"SIGTERM should stop the host with exit code 0 within {StopDeadline}; got {code?.ToString(CultureInfo.InvariantCulture) ?? "still running"}.\n{output}");
        Assert.DoesNotContain("Unhandled exception", host.StandardError + host.StandardOutput, StringComparison.Ordinal);
        OutputChecks.NoSecret(host.StandardOutput + host.StandardError, [Secret], "the output");
    }

    private static string Fill(string template, int port) => template.Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
