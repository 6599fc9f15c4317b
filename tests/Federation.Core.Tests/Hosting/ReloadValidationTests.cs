using Federation.Core.Hosting;
using Federation.Core.Links;
using Federation.Core.Tests.Engine;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Federation.Core.Tests.Hosting;

/// <summary>
/// Issue 9: a reload through <see cref="IOptionsMonitor{TOptions}"/> is validated exactly as at start. A bad one is
/// logged at warning naming every error and changes nothing (no link stops, nothing is deleted upstream); any other
/// failure is logged at error; either way the next good reload applies.
/// </summary>
public sealed class ReloadValidationTests
{
    private const string UpstreamQueue = "federation: federated.orders -> london";
    private const string HostedServiceCategory = "Federation.Core.Hosting.FederationHostedService";

    private readonly ReloadableFederationHost _host = new();

    private IHost BuildHost() => _host.Build(f => f.AddTransport<ExplodingTransport>());

    private IReadOnlyList<CapturingLoggerProvider.Entry> ReloadLog(LogLevel level) =>
        [.. _host.Logs.Entries.Where(e => e.Category == HostedServiceCategory && e.Level == level)];

    private async Task<IFederationStatus> StartWithOneRunningLinkAsync(IHost host)
    {
        await host.StartAsync();
        var london = await _host.Registry.GetOrAdd("london").ConnectAsync();
        await london.DeclareExchangeAsync(new ExchangeSpec("federated.orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        var status = host.Services.GetRequiredService<IFederationStatus>();
        await Testbed.Eventually(() => status.GetLinks() is [{ State: LinkState.Running }], () => "link running");
        return status;
    }

    [Fact]
    public async Task A_bad_reload_is_logged_at_warning_naming_every_error_and_a_later_good_reload_applies()
    {
        using var host = BuildHost();
        var status = await StartWithOneRunningLinkAsync(host);
        var running = status.GetLinks()[0];
        var tokyo = _host.Registry.GetOrAdd("tokyo");

        // A typo in the policy and a dropped downstream: both named, nothing changes.
        _host.Source.Set("Federation:Policies:p:definition:federation-upstream", "tokio");
        _host.Source.Set("Federation:Downstream:uri", null);
        _host.Source.Reload();
        await Testbed.Eventually(() => ReloadLog(LogLevel.Warning).Count == 1, () => "refused reload logged at warning");
        var warning = ReloadLog(LogLevel.Warning)[0].Message;
        Assert.Contains("the running configuration is kept", warning, StringComparison.Ordinal);
        Assert.Contains("2 error(s)", warning, StringComparison.Ordinal);
        Assert.Contains("Downstream:uri: a downstream broker URI is required", warning, StringComparison.Ordinal);
        Assert.Contains("Policies:p:definition:federation-upstream: 'tokio' names no defined upstream (defined: tokyo)", warning, StringComparison.Ordinal);

        // The whole file replaced with {}: refused the same way.
        _host.Source.Clear();
        _host.Source.Reload();
        await Testbed.Eventually(() => ReloadLog(LogLevel.Warning).Count == 2, () => "second refused reload logged at warning");
        Assert.Contains("Downstream:uri: a downstream broker URI is required", ReloadLog(LogLevel.Warning)[1].Message, StringComparison.Ordinal);

        Assert.Equal((LinkState.Running, running.Since), (status.GetLinks().Single().State, status.GetLinks().Single().Since));
        Assert.True(status.IsDownstreamConnected);
        Assert.True(tokyo.QueueExists("/", UpstreamQueue));
        Assert.DoesNotContain(ReloadLog(LogLevel.Information), e => e.Message.Contains("reloaded", StringComparison.Ordinal));

        // A good reload (the policy removed on purpose) applies: the link stops and cleans up.
        _host.Source.Set("Federation:ClusterName", "london");
        _host.Source.Set("Federation:Downstream:uri", "memory://london/%2f");
        _host.Source.Set("Federation:Upstreams:tokyo:uri", "memory://tokyo/%2f");
        _host.Source.Reload();
        await Testbed.Eventually(() => status.GetLinks().Count == 0, () => "link stopped by the good reload");
        await Testbed.Eventually(() => ReloadLog(LogLevel.Information).Any(e => e.Message == "Federation configuration reloaded"), () => "reload logged");
        Assert.False(tokyo.QueueExists("/", UpstreamQueue));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_reload_with_many_errors_logs_the_first_fifty_and_counts_the_rest()
    {
        using var host = BuildHost();
        await StartWithOneRunningLinkAsync(host);

        // 60 policies naming an upstream nobody defined (a black-box run's 3,000 mistakes made one line of about 1 MB).
        for (var i = 0; i < 60; i++)
        {
            _host.Source.Set($"Federation:Policies:bad{i:00}:pattern", "^x$");
            _host.Source.Set($"Federation:Policies:bad{i:00}:definition:federation-upstream", "nowhere");
        }

        _host.Source.Reload();
        await Testbed.Eventually(() => ReloadLog(LogLevel.Warning).Count == 1, () => "refused reload logged at warning");
        var warning = ReloadLog(LogLevel.Warning)[0].Message;
        Assert.Contains("60 error(s)", warning, StringComparison.Ordinal);
        Assert.Equal(FederationHostedService.MaxErrorsLogged, warning.Split("names no defined upstream").Length - 1);
        Assert.EndsWith("; and 10 more", warning, StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_reload_that_fails_unexpectedly_is_logged_at_error_and_the_next_reload_still_applies()
    {
        using var host = BuildHost();
        var status = await StartWithOneRunningLinkAsync(host);

        _host.Source.Set("Federation:Upstreams:boom:uri", ExplodingTransport.Uri);
        _host.Source.Reload();
        await Testbed.Eventually(() => ReloadLog(LogLevel.Error).Count == 1, () => "failed reload logged at error");
        // The cause is named in the message (type and text); the stack trace is left to debug logging.
        Assert.Contains(nameof(InvalidOperationException), ReloadLog(LogLevel.Error)[0].Message, StringComparison.Ordinal);
        Assert.Equal(LinkState.Running, status.GetLinks().Single().State);

        _host.Source.Set("Federation:Upstreams:boom:uri", null);
        _host.Source.Set("Federation:Policies:p:pattern", null);
        _host.Source.Set("Federation:Policies:p:definition:federation-upstream", null);
        _host.Source.Reload();
        await Testbed.Eventually(() => status.GetLinks().Count == 0, () => "link stopped by the next reload");
        await host.StopAsync();
    }

    [Fact]
    public async Task Start_refuses_what_a_reload_refuses()
    {
        _host.Source.Set("Federation:Upstreams:tokyo:uri", "memory://tokyo/%2f?verify=none");
        using var host = BuildHost();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(
            ["Upstreams:tokyo:uri: 'memory://tokyo/%2f?verify=none' has the query key 'verify', which memory:// URIs do not understand (they accept none)"],
            error.Failures);
    }

    /// <summary>A transport whose URI check fails unexpectedly: a stand-in for any bug on the reload path.</summary>
    private sealed class ExplodingTransport : ITransport
    {
        public const string Uri = "boom://host";

        public IReadOnlyCollection<string> Schemes { get; } = ["boom"];

        public IReadOnlyList<string> ValidateUri(string uri) => throw new InvalidOperationException("the URI check failed");

        public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
