namespace FederationHost.Tests.BadInput;

/// <summary>
/// Every row of <see cref="ReloadCases"/> against the host running in-process with a live link: the bad reload is refused
/// with a warning naming the key, the link keeps running untouched with its upstream queue, no secret shows, and the next
/// good reload applies.
/// </summary>
public sealed class ReloadBadInputTests
{
    [Theory]
    [MemberData(nameof(ReloadCases.Names), MemberType = typeof(ReloadCases))]
    public async Task A_bad_reload_is_refused_and_the_running_configuration_kept(string row)
    {
        var @case = ReloadCases.All[row];
        var source = new ReloadableConfigurationSource(ReloadCases.Baseline);
        await using var host = await RunningHost.StartAsync(source);
        var before = await RunningLinkAsync(host);

        var bad = new Dictionary<string, string?>(ReloadCases.Baseline, StringComparer.OrdinalIgnoreCase);
        @case.Change(bad);
        source.Replace(bad);

        await BadReloadAssertions.RefusedAsync(host, before, ReloadCases.RemoteBroker, @case.Expect, [.. @case.Secrets, ReloadCases.Secret]);
        await BadReloadAssertions.GoodReloadStillAppliesAsync(host, before, ReloadCases.RemoteBroker, () =>
        {
            source.Replace(ReloadCases.WithSecondUpstream);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task A_good_reload_adding_an_upstream_leaves_the_running_link_untouched()
    {
        // The control for the table: the good reload used after each bad one adds a link and does not restart the first.
        var source = new ReloadableConfigurationSource(ReloadCases.Baseline);
        await using var host = await RunningHost.StartAsync(source);
        var before = await RunningLinkAsync(host);
        await BadReloadAssertions.GoodReloadStillAppliesAsync(host, before, ReloadCases.RemoteBroker, () =>
        {
            source.Replace(ReloadCases.WithSecondUpstream);
            return Task.CompletedTask;
        });
        Assert.DoesNotContain(host.Logs.Warnings, r => r.Category.StartsWith("Federation", StringComparison.Ordinal));
    }

    // The baseline's one link, running, with its upstream queue on the remote broker.
    internal static async Task<RunningState> RunningLinkAsync(RunningHost host)
    {
        await using var app = await host.DeclareExchangeAsync(ReloadCases.LocalBroker, "federated.orders");
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "the baseline link running");
        var before = await RunningState.CaptureAsync(host, ReloadCases.RemoteBroker);
        Assert.Single(before.Links);
        Assert.Single(before.UpstreamQueues);
        return before;
    }
}
