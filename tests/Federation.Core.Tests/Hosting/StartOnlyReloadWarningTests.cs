using Federation.Core.Hosting;
using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Tests.Engine;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.Configuration;
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

    private readonly InMemoryBrokerRegistry _registry = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly ReloadableConfigurationSource _source = new(new Dictionary<string, string?>
    {
        ["Federation:ClusterName"] = "london",
        ["Federation:Downstream:uri"] = "memory://london/%2f",
        ["Federation:Upstreams:tokyo:uri"] = "memory://tokyo/%2f",
        ["Federation:Policies:p:pattern"] = "^federated\\.",
        ["Federation:Policies:p:definition:federation-upstream"] = "tokyo",
    });

    private IHost BuildHost()
    {
        _registry.GetOrAdd("london", "london");
        _registry.GetOrAdd("tokyo", "tokyo");
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        ((IConfigurationBuilder)builder.Configuration).Add(_source);
        builder.Logging.ClearProviders().AddProvider(_logs);
        builder.Services.AddFederation(builder.Configuration.GetSection("Federation")).UseInMemoryBrokers(_registry);
        return builder.Build();
    }

    private int ReloadsApplied => _logs.Entries.Count(e => e.Category == HostedServiceCategory && e.Message == "Federation configuration reloaded");

    private IReadOnlyList<CapturingLoggerProvider.Entry> StartOnlyWarnings => _logs.WithId(StartOnlySettingsChangedEvent);

    private async Task ReloadAsync(int appliedBefore)
    {
        _source.Reload();
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
        var london = await _registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running }], () => "link running");

        // A reload that touches no start-only key (the start value written out counts as no change): no warning.
        _source.Set("Federation:Upstreams:tokyo:max-hops", "2");
        _source.Set(key, asStarted);
        await ReloadAsync(appliedBefore: 0);
        Assert.Empty(StartOnlyWarnings);

        // The start-only key changed, and the policy removed: the warning names the key, the rest applies.
        _source.Set(key, changed);
        _source.Set("Federation:Policies:p:pattern", null);
        _source.Set("Federation:Policies:p:definition:federation-upstream", null);
        await ReloadAsync(appliedBefore: 1);
        var warning = Assert.Single(StartOnlyWarnings);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(
            $"Federation configuration changed {named}, which take effect only at start: the running values stay until a restart; the rest of the change is applied",
            warning.Message);
        await Testbed.Eventually(() => status.GetLinks().Count == 0, () => "link stopped by the rest of the reload");

        // Back to the value it runs with: nothing more to say.
        _source.Set(key, asStarted);
        await ReloadAsync(appliedBefore: 2);
        Assert.Single(StartOnlyWarnings);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_reloaded_instance_name_leaves_the_running_name_and_its_lease_alone()
    {
        using var host = BuildHost();
        await host.StartAsync();
        var london = await _registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running, Instance: not null }], () => "link running");
        var started = status.GetLinks()[0];

        _source.Set("Federation:InstanceName", "host-b");
        _source.Set("Federation:Upstreams:tokyo:max-hops", "2");
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

        _source.Set("Federation:SpreadLinks", "false");
        _source.Set("Federation:Ownership:PresenceTimeout", "00:00:06");
        _source.Set("Federation:Ownership:FallbackDelay", "00:00:30");
        await ReloadAsync(appliedBefore: 0);

        var warning = Assert.Single(StartOnlyWarnings);
        Assert.StartsWith(
            "Federation configuration changed SpreadLinks 'true' -> 'false', Ownership:PresenceTimeout '00:00:03' -> '00:00:06', Ownership:FallbackDelay '00:00:15' -> '00:00:30', which",
            warning.Message,
            StringComparison.Ordinal);
        await host.StopAsync();
    }
}
