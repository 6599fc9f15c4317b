using System.Net;
using System.Net.Sockets;
using Federation.Testing.Brokers;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// Every row of <see cref="StartupCases"/> against the built host process: a mistake at start is refused with exit code 2
/// and one <c>FederationHost:</c> line naming the key, without a stack trace and without any secret, within a deadline.
/// </summary>
public sealed class StartupBadInputTests
{
    // Generous for a loaded 2-core machine; a refused start takes well under a second.
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);

    [Theory]
    [MemberData(nameof(StartupCases.Names), MemberType = typeof(StartupCases))]
    public async Task A_bad_start_up_input_is_refused_cleanly(string row)
    {
        var @case = StartupCases.All[row];
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var text = @case.Settings.Render(FreePorts.Next(), ((IPEndPoint)occupied.LocalEndpoint).Port, FreePorts.Next());
        var secrets = @case.Secrets.Append(SettingsDocument.PlantedSecret).ToList();

        await using var host = HostProcess.Start(text, @case.Args);
        var exited = await host.WaitForExitOrAsync(h => h.ListeningUrl is not null, ExitDeadline);
        if (exited)
        {
            var code = await host.TryWaitForExitAsync(StopDeadline);
            AssertRefused(@case, code, host.StandardOutput, host.StandardError, secrets);
            return;
        }

        var url = host.ListeningUrl;
        Assert.True(url is not null, $"The host neither exited nor started within {ExitDeadline} (a hang).\n{Describe(host)}");
        OutputChecks.NoSecret(host.StandardOutput + host.StandardError, secrets, "the output of the started host");
        Assert.True(
            @case.Outcome == StartupOutcome.RefusedOrStarts,
            $"The host started instead of refusing the input (expected exit code 2 naming {string.Join(", ", @case.Expect)}).\n{Describe(host)}");
        await AssertStartedCleanlyAsync(host, new Uri(url!), secrets);
    }

    [Fact]
    public async Task The_good_document_starts_and_SIGTERM_stops_it_with_exit_code_0()
    {
        // The control row: the harness sees a start, the document's link exists, and a clean stop is exit code 0.
        await using var host = HostProcess.Start(SettingsDocument.Good.Text);
        var exited = await host.WaitForExitOrAsync(h => h.ListeningUrl is not null, ExitDeadline);
        Assert.False(exited, "The good document did not start.\n" + Describe(host));
        await AssertStartedCleanlyAsync(host, new Uri(host.ListeningUrl!), [SettingsDocument.PlantedSecret]);
    }

    private static void AssertRefused(StartupCase @case, int? code, string stdout, string stderr, IReadOnlyList<string> secrets)
    {
        var output = $"exit code {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}";
        OutputChecks.NoSecret(stdout, secrets, "stdout");
        OutputChecks.NoSecret(stderr, secrets, "stderr");
        Assert.True(code == 2, $"Expected exit code 2 (refused), got {code}.\n{output}");
        var lines = OutputChecks.HostErrorLines(stderr);
        Assert.True(
            lines.Any(l => @case.Expect.All(e => l.Contains(e, StringComparison.OrdinalIgnoreCase))),
            $"No 'FederationHost:' line on stderr names {string.Join(" and ", @case.Expect.Select(e => "'" + e + "'"))}.\n{output}");
        OutputChecks.NoStackTrace(stdout, "stdout");
        OutputChecks.NoStackTrace(stderr, "stderr");
    }

    // A start that is allowed: nothing the host serves carries a secret, and SIGTERM stops it with exit code 0.
    private static async Task AssertStartedCleanlyAsync(HostProcess host, Uri url, IReadOnlyList<string> secrets)
    {
        using (var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) })
        {
            var links = await Eventually.UntilAsync(
                () => http.GetStringAsync("/federation/links"), l => l.Contains("\"id\"", StringComparison.Ordinal), "a link in /federation/links");
            OutputChecks.NoSecret(links, secrets, "/federation/links");
            var health = await http.GetAsync("/health");
            OutputChecks.NoSecret(await health.Content.ReadAsStringAsync(), secrets, "/health");
            OutputChecks.NoSecret(await http.GetStringAsync("/metrics"), secrets, "/metrics");
        }

        await host.TerminateAsync();
        var code = await host.TryWaitForExitAsync(StopDeadline);
        OutputChecks.NoSecret(host.StandardOutput, secrets, "stdout");
        OutputChecks.NoSecret(host.StandardError, secrets, "stderr");
        Assert.True(code == 0, $"SIGTERM should stop the host with exit code 0 within {StopDeadline}; got {code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "still running"}.\n{Describe(host)}");
    }

    private static string Describe(HostProcess host) =>
        $"--- stdout\n{host.StandardOutput}\n--- stderr\n{host.StandardError}";
}
