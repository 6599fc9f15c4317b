using Federation.Core.Hosting;
using Federation.Core.Links;
using Federation.Core.Tests.Engine;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Hosting;

/// <summary>
/// <c>InstanceName</c>, <c>SpreadLinks</c> and the <c>Ownership</c> timings take effect only at start. A reload that changes one of them is
/// logged at warning (event 2016) naming the key with its running and its new value and saying a restart is needed, and
/// the rest of the reload still applies; a reload that leaves them as they run logs nothing of the kind.
/// </summary>
public sealed class StartOnlyReloadWarningTests
{
    private const int StartOnlySettingsChangedEvent = 2016;
    private const string HostedServiceCategory = "Federation.Core.Hosting.FederationHostedService";

    private readonly ReloadableFederationHost _host = new();

    private IHost BuildHost() => _host.Build();

    private int ReloadsApplied => _host.Logs.Entries.Count(e => e.Category == HostedServiceCategory && e.Message == "Federation configuration reloaded");

    private IReadOnlyList<CapturingLoggerProvider.Entry> StartOnlyWarnings => _host.Logs.WithId(StartOnlySettingsChangedEvent);

    private async Task ReloadAsync(int appliedBefore)
    {
        _host.Source.Reload();
        await Testbed.Eventually(() => ReloadsApplied == appliedBefore + 1, () => $"reload {appliedBefore + 1} applied");
    }

    [Theory]
    [InlineData("Federation:SpreadLinks", "false", "true", "SpreadLinks 'true' -> 'false'")]
    [InlineData("Federation:Ownership:SettleTime", "00:00:05", "00:00:03", "Ownership:SettleTime '00:00:03' -> '00:00:05'")]
    [InlineData("Federation:Ownership:HeartbeatInterval", "00:00:00.5000000", null, "Ownership:HeartbeatInterval '00:00:01' -> '00:00:00.5000000'")]
    [InlineData("Federation:InstanceName", "host-b", null, "InstanceName (unset) -> 'host-b'")]
    public async Task A_reload_changing_a_start_only_key_warns_naming_it_and_applies_the_rest(string key, string changed, string? asStarted, string named)
    {
        using var host = BuildHost();
        await host.StartAsync();
        var london = await _host.Registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running }], () => "link running");

        // A reload that touches no start-only key (the start value written out counts as no change): no warning.
        _host.Source.Set("Federation:Upstreams:tokyo:max-hops", "2");
        _host.Source.Set(key, asStarted);
        await ReloadAsync(appliedBefore: 0);
        Assert.Empty(StartOnlyWarnings);

        // The start-only key changed, and the policy removed: the warning names the key, the rest applies.
        _host.Source.Set(key, changed);
        _host.Source.Set("Federation:Policies:p:pattern", null);
        _host.Source.Set("Federation:Policies:p:definition:federation-upstream", null);
        await ReloadAsync(appliedBefore: 1);
        var warning = Assert.Single(StartOnlyWarnings);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(
            $"Federation configuration changed {named}, which take effect only at start: the running values stay until a restart; the rest of the change is applied",
            warning.Message);
        await Testbed.Eventually(() => status.GetLinks().Count == 0, () => "link stopped by the rest of the reload");

        // Back to the value it runs with: nothing more to say.
        _host.Source.Set(key, asStarted);
        await ReloadAsync(appliedBefore: 2);
        Assert.Single(StartOnlyWarnings);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_reloaded_instance_name_leaves_the_running_name_and_its_lease_alone()
    {
        using var host = BuildHost();
        await host.StartAsync();
        var london = await _host.Registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running, Instance: not null }], () => "link running");
        var started = status.GetLinks()[0];

        _host.Source.Set("Federation:InstanceName", "host-b");
        _host.Source.Set("Federation:Upstreams:tokyo:max-hops", "2");
        await ReloadAsync(appliedBefore: 0);

        Assert.Contains("InstanceName (unset) -> 'host-b'", Assert.Single(StartOnlyWarnings).Message, StringComparison.Ordinal);
        var link = Assert.Single(status.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(started.Instance, link.Instance);
        Assert.Equal(started.LeaseHolder, link.LeaseHolder);
        await host.StopAsync();
    }

    [Fact]
    public async Task Several_changed_start_only_keys_are_named_in_one_warning()
    {
        using var host = BuildHost();
        await host.StartAsync();

        _host.Source.Set("Federation:SpreadLinks", "false");
        _host.Source.Set("Federation:Ownership:PresenceTimeout", "00:00:06");
        _host.Source.Set("Federation:Ownership:FallbackDelay", "00:00:30");
        await ReloadAsync(appliedBefore: 0);

        var warning = Assert.Single(StartOnlyWarnings);
        Assert.StartsWith(
            "Federation configuration changed SpreadLinks 'true' -> 'false', Ownership:PresenceTimeout '00:00:03' -> '00:00:06', Ownership:FallbackDelay '00:00:15' -> '00:00:30', which",
            warning.Message,
            StringComparison.Ordinal);
        await host.StopAsync();
    }
}
