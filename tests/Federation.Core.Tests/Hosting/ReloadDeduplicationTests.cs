using Federation.Core.Links;
using Federation.Core.Tests.Engine;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Hosting;

/// <summary>
/// One save, one report: a change notification that brings the configuration already running (a settings file saved
/// twice, a change outside the federation's keys) is skipped without a log line, and a refused configuration is reported
/// once however often it comes again, until something else came in between.
/// </summary>
public sealed class ReloadDeduplicationTests
{
    private const string HostedServiceCategory = "Federation.Core.Hosting.FederationHostedService";
    private const int ReloadRejectedEvent = 3001;
    private const int StartOnlySettingsChangedEvent = 2016;

    private readonly ReloadableFederationHost _host = new();

    private int ReloadsLogged => _host.Logs.Entries.Count(e => e.Category == HostedServiceCategory && e.Message == "Federation configuration reloaded");

    private async Task<(IHost Host, IFederationStatus Status)> StartWithOneRunningLinkAsync()
    {
        var host = _host.Build();
        await host.StartAsync();
        var london = await _host.Registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running }], () => "link running");
        return (host, status);
    }

    // Reloads reach the engine in order: once a later, different reload is logged, the ones before it were handled. The
    // reconnect delay changes nothing the running link does, so the link goes on as it was.
    private async Task ReloadDifferentlyAndWaitAsync(int delay, int reloadsBefore)
    {
        _host.Source.Set("Federation:Upstreams:tokyo:reconnect-delay", delay.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _host.Source.Reload();
        await Testbed.Eventually(() => ReloadsLogged == reloadsBefore + 1, () => $"{ReloadsLogged} reloads logged, expected {reloadsBefore + 1}");
    }

    [Fact]
    public async Task A_change_notified_twice_is_applied_and_logged_once_and_an_unrelated_change_not_at_all()
    {
        var (host, status) = await StartWithOneRunningLinkAsync();
        using var _ = host;

        // One change, notified twice (as a file watcher reports one save).
        _host.Source.Set("Federation:Upstreams:tokyo:max-hops", "2");
        _host.Source.Reload();
        _host.Source.Reload();

        // A change outside the Federation section, and the same configuration again.
        _host.Source.Set("Logging:LogLevel:Default", "Debug");
        _host.Source.Reload();

        await ReloadDifferentlyAndWaitAsync(delay: 3, reloadsBefore: 1);
        Assert.Equal(2, ReloadsLogged);
        Assert.Equal(LinkState.Running, status.GetLinks().Single().State);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_refused_configuration_is_reported_once_until_another_one_came_in_between()
    {
        var (host, status) = await StartWithOneRunningLinkAsync();
        using var _ = host;
        var running = status.GetLinks().Single();

        _host.Source.Set("Federation:Policies:p:definition:federation-upstream", "tokio");
        _host.Source.Reload();
        _host.Source.Reload();
        await Testbed.Eventually(() => _host.Logs.WithId(ReloadRejectedEvent).Count >= 1, () => "refusal logged");

        // Fixed back to the running configuration: taken, and said so, though nothing changes.
        _host.Source.Set("Federation:Policies:p:definition:federation-upstream", "tokyo");
        _host.Source.Reload();
        await Testbed.Eventually(() => ReloadsLogged == 1, () => "the fix acknowledged");

        // Another valid change, then broken the same way again: that is news, and reported again.
        await ReloadDifferentlyAndWaitAsync(delay: 2, reloadsBefore: 1);
        _host.Source.Set("Federation:Policies:p:definition:federation-upstream", "tokio");
        _host.Source.Reload();
        _host.Source.Reload();
        _host.Source.Set("Federation:Policies:p:definition:federation-upstream", "tokyo");
        await ReloadDifferentlyAndWaitAsync(delay: 3, reloadsBefore: 2);

        Assert.Equal(2, _host.Logs.WithId(ReloadRejectedEvent).Count);
        Assert.All(_host.Logs.WithId(ReloadRejectedEvent), e => Assert.Equal(LogLevel.Warning, e.Level));
        Assert.Equal(running.Since, status.GetLinks().Single().Since);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_start_only_change_notified_twice_is_warned_about_once()
    {
        var (host, _) = await StartWithOneRunningLinkAsync();
        using var running = host;

        _host.Source.Set("Federation:SpreadLinks", "false");
        _host.Source.Reload();
        _host.Source.Reload();

        // Back to the running value (an applied reload would warn again while it differs), to know both were handled.
        _host.Source.Set("Federation:SpreadLinks", "true");
        await ReloadDifferentlyAndWaitAsync(delay: 2, reloadsBefore: 1);

        Assert.Single(_host.Logs.WithId(StartOnlySettingsChangedEvent));
        await host.StopAsync();
    }
}
