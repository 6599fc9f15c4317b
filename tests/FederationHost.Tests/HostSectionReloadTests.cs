namespace FederationHost.Tests;

/// <summary>
/// The Host and Telemetry sections are read at start only. A reload that brings a mistake there is reported at warning
/// naming the key (as <c>validate</c> and the next start would), once per content however often it is notified, and
/// the running host carries on; a valid change is reported as needing a restart.
/// </summary>
public sealed class HostSectionReloadTests
{
    private const int InvalidHostSection = 5004;
    private const int HostSectionNeedsRestart = 5005;

    [Fact]
    public async Task A_mistake_in_the_Host_section_on_reload_is_a_warning_naming_the_key_and_the_host_carries_on()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("host-reload"));
        await using var app = await host.DeclareExchangeAsync("host-reload-local", "federated.orders");
        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");

        // Notified twice, as a file watcher reports one save.
        host.Configuration.Update(new Dictionary<string, string?> { ["Host:Ulr"] = "x" });
        host.Configuration.Update(new Dictionary<string, string?> { ["Host:Ulr"] = "x" });

        var warning = await Eventually.UntilAsync(
            () => Task.FromResult(host.Logs.Warnings.FirstOrDefault(r => r.EventId.Id == InvalidHostSection)),
            r => r is not null,
            "a warning for the Host section");
        Assert.Contains("Host:Ulr", warning!.Message, StringComparison.Ordinal);
        Assert.Contains("not a recognised key", warning.Message, StringComparison.Ordinal);
        Assert.Contains("keeps the settings it started with", warning.Message, StringComparison.Ordinal);
        Assert.Contains("exit code 2", warning.Message, StringComparison.Ordinal);

        // Fixed to a valid but different value: that needs a restart, and says so; the mistake was reported once.
        host.Configuration.Update(new Dictionary<string, string?> { ["Host:Ulr"] = null, ["Host:CreateInMemoryBrokers"] = "false" });
        await Eventually.UntilAsync(
            () => Task.FromResult(host.Logs.Warnings.Count(r => r.EventId.Id == HostSectionNeedsRestart)),
            n => n == 1,
            "a warning that the Host change needs a restart");
        Assert.Single(host.Logs.Warnings, r => r.EventId.Id == InvalidHostSection);
        var links = await host.GetLinksAsync();
        Assert.Equal("running", Assert.Single(links).GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_reload_that_leaves_the_Host_section_alone_says_nothing_about_it()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("host-quiet"));

        host.Configuration.Update(new Dictionary<string, string?> { ["Federation:Upstreams:remote:max-hops"] = "2" });
        host.Configuration.Update(new Dictionary<string, string?> { ["Host:Ulr"] = "x" });
        await Eventually.UntilAsync(
            () => Task.FromResult(host.Logs.Warnings.Count(r => r.EventId.Id == InvalidHostSection)), n => n == 1, "the Host mistake reported");

        Assert.DoesNotContain(host.Logs.Warnings, r => r.EventId.Id == HostSectionNeedsRestart);
    }
}
