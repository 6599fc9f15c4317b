using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Federation.Testing.Brokers;

namespace FederationHost.Tests;

/// <summary>
/// Peers that accept TCP and never answer (issue 9's reproduction): the host shows the stuck link as down, restarts it,
/// and stops promptly and cleanly, in process and as a real process receiving SIGTERM.
/// </summary>
public sealed class SilentPeerHostTests
{
    // The host's default shutdown timeout; stopping must finish well within it.
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_upstream_that_never_answers_is_down_degrades_health_and_restarts_on_request()
    {
        await using var peer = new SilentPeer();
        var settings = RunningHost.DefaultSettings("silent-up");
        settings["Federation:Upstreams:remote:uri"] = $"amqp://federator:{RunningHost.Secret}@127.0.0.1:{peer.Port}/%2f?connection_timeout=1000";
        settings["Federation:Upstreams:remote:reconnect-delay"] = "3600";
        await using var host = await RunningHost.StartAsync(settings);
        await host.DeclareExchangeAsync("silent-up-local", "federated.orders");

        var down = await Eventually.UntilAsync(() => host.GetLinksAsync("?only-down=true"), l => l.Length == 1, "the link in ?only-down=true");
        var link = down[0];
        Assert.Equal("error", link.GetProperty("state").GetString());
        Assert.Contains("timed out after 1 s", link.GetProperty("error").GetString(), StringComparison.Ordinal);
        var health = await host.Http.GetStringAsync("/health");
        Assert.Contains("Degraded", health, StringComparison.Ordinal);
        Assert.DoesNotContain(RunningHost.Secret, health + JsonSerializer.Serialize(down), StringComparison.Ordinal);

        // Immediate retry, then an hour's reconnect delay: only a restart makes a third attempt now.
        await Eventually.UntilAsync(() => Task.FromResult(peer.Accepted), n => n >= 2, "the immediate retry");
        await Eventually.UntilAsync(() => host.GetLinksAsync("?only-down=true"), l => l.Length == 1 && peer.Accepted == 2, "the second attempt failed");
        using var restart = await host.Http.PostAsync($"/federation/links/{link.GetProperty("id").GetString()}/restart", null);
        Assert.Equal(HttpStatusCode.Accepted, restart.StatusCode);
        await Eventually.UntilAsync(() => Task.FromResult(peer.Accepted), n => n >= 3, "a new attempt after the restart");
    }

    [Fact]
    public async Task Stopping_a_host_whose_downstream_never_answers_is_prompt_and_throws_nothing()
    {
        await using var peer = new SilentPeer();
        var settings = RunningHost.DefaultSettings("silent-down");
        settings["Federation:Downstream:uri"] = $"amqp://u:{RunningHost.Secret}@127.0.0.1:{peer.Port}/%2f?connection_timeout=60000";
        var host = await RunningHost.StartAsync(settings);
        await Eventually.UntilAsync(() => Task.FromResult(peer.Accepted), n => n >= 1, "the downstream connect attempt");

        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(ShutdownTimeout);
        await host.App.StopAsync(deadline.Token);
        await host.DisposeAsync();

        Assert.True(clock.Elapsed < ShutdownTimeout / 2, $"stopping took {clock.Elapsed}");
    }

    [Fact]
    public async Task Sigterm_stops_the_host_process_with_exit_code_0_while_its_downstream_never_answers()
    {
        await using var peer = new SilentPeer();
        var contentRoot = Directory.CreateTempSubdirectory("federation-host-sigterm-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(contentRoot.FullName, "appsettings.json"), $$"""
                {
                  "Logging": { "LogLevel": { "Default": "Information", "Microsoft": "Warning" } },
                  "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
                  "Federation": { "Downstream": { "uri": "amqp://u:pw@127.0.0.1:{{peer.Port}}/%2f?connection_timeout=2000" } }
                }
                """);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(HostDll());
            start.ArgumentList.Add("--contentRoot");
            start.ArgumentList.Add(contentRoot.FullName);
            using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet could not be started.");
            var output = new StringBuilder();
            var stdout = PumpAsync(process.StandardOutput, output);
            var stderr = PumpAsync(process.StandardError, output);
            try
            {
                await Eventually.UntilAsync(() => Task.FromResult(peer.Accepted), n => n >= 1, "the host's downstream connect attempt", TimeSpan.FromSeconds(60));
                await Eventually.UntilAsync(() => Task.FromResult(Text(output)), t => t.Contains("Federation host listening", StringComparison.Ordinal), "the host started", TimeSpan.FromSeconds(60));

                var clock = Stopwatch.StartNew();
                await SendSigtermAsync(process.Id);
                using var deadline = new CancellationTokenSource(ShutdownTimeout);
                await process.WaitForExitAsync(deadline.Token);
                await Task.WhenAll(stdout, stderr);

                var log = Text(output);
                Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode} after {clock.Elapsed}:\n{log}");
                Assert.DoesNotContain("Unhandled exception", log, StringComparison.Ordinal);
                Assert.DoesNotContain("pw@", log, StringComparison.Ordinal);
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true); // Only this process, by its own handle.
                }
            }
        }
        finally
        {
            contentRoot.Delete(recursive: true);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder output)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static async Task SendSigtermAsync(int pid)
    {
        // Process.Kill sends SIGKILL; a host's graceful stop needs SIGTERM.
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })
            ?? throw new InvalidOperationException("kill could not be started.");
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>The host built in the same configuration as these tests: examples/FederationHost/bin/{configuration}/{tfm}/FederationHost.dll.</summary>
    private static string HostDll()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = output.Name;
        var configuration = output.Parent!.Name;
        for (var directory = output; directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "examples", "FederationHost", "bin", configuration, tfm, "FederationHost.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"examples/FederationHost/bin/{configuration}/{tfm}/FederationHost.dll not found above {AppContext.BaseDirectory}");
    }
}
