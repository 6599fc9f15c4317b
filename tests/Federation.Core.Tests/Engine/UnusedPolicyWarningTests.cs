using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A policy whose pattern has a typo federates nothing, and the host looked healthy with fewer links: validation cannot
/// tell, since it does not know the exchanges. Now a policy that applies to none of the downstream's own exchanges warns
/// (event 2031), once while that lasts.
/// </summary>
public sealed class UnusedPolicyWarningTests : IAsyncLifetime
{
    private const int PolicyAppliesToNone = 2031;

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private FederationEngine? _engine;

    public Task InitializeAsync()
    {
        _bed.Broker("D");
        _bed.Broker("U");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }

        _logs.Dispose();
        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task A_policy_whose_pattern_matches_no_exchange_warns_once_naming_it_and_again_only_after_it_applied()
    {
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "federated.orders");
        await StartAsync(("good", "^federated\\.orders$"), ("typo", "^federatd\\."));

        await Testbed.Eventually(() => _logs.WithId(PolicyAppliesToNone).Count > 0, () => "no warning about policy 'typo'");
        var warning = Assert.Single(_logs.WithId(PolicyAppliesToNone));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("Policy 'typo' (pattern '^federatd\\.') applies to none of the downstream's 1 exchange(s)", warning.Message, StringComparison.Ordinal);

        // Reconciled again (other exchanges come): no second warning while the policy still applies to none.
        await Testbed.DeclareExchangeAsync(app, "unrelated");
        await Testbed.DeclareExchangeAsync(app, "federatd.x");
        await Testbed.Eventually(() => _engine!.GetLinks().Count == 2, () => $"the typo policy should apply to federatd.x: {_engine!.GetLinks().Count} link(s)");
        Assert.Single(_logs.WithId(PolicyAppliesToNone));
        await app.DeleteExchangeAsync("federatd.x", CancellationToken.None);
        await Testbed.Eventually(() => _logs.WithId(PolicyAppliesToNone).Count == 2, () => "no second warning once the policy applies to none again");
        Assert.All(_logs.WithId(PolicyAppliesToNone), w => Assert.Contains("'typo'", w.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_downstream_without_exchanges_of_its_own_yet_is_not_warned_about()
    {
        await StartAsync(("fed", "^federated\\."));
        await Testbed.Eventually(() => _engine!.IsDownstreamConnected, () => "the downstream should connect");

        // An exchange the policy matches arrives, as an application declares it after the host started: it runs.
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "federated.orders");
        await Testbed.Eventually(() => _engine!.GetLinks().Count == 1, () => "the link should start");
        Assert.Empty(_logs.WithId(PolicyAppliesToNone));
    }

    private async Task StartAsync(params (string Name, string Pattern)[] policies)
    {
        var options = new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }.Upstream("u", "U");
        foreach (var (name, pattern) in policies)
        {
            options.Policy(name, pattern, upstream: "u");
        }

        _engine = new FederationEngine(options, [_bed.Transport], _logs.AsFactory());
        await _engine.StartAsync(CancellationToken.None);
    }
}
