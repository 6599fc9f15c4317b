using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A link whose upstream queue a reload hands to another link (an upstream renamed on the same broker: another link id, so
/// another ledger) drops its ledger on the downstream even when it stops between two runs, with no session to drop it.
/// Before, only a running session did, and the ledger of a link that was failing at the reload stayed for good.
/// </summary>
public sealed class LedgerDroppedBetweenRunsTests
{
    [Fact]
    public async Task A_failing_link_whose_queue_a_renamed_upstream_takes_over_drops_its_ledger()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        static void Slow(UpstreamDefinition u)
        {
            u.ReconnectDelaySeconds = 3600;
            u.ReconnectBackoff = ReconnectBackoffMode.Fixed;
        }

        var engine = await bed.StartEngineAsync("D", o => o.Upstream("u", "U", Slow).Policy("fed", "^fed$", upstream: "u"), loggerFactory: loggerFactory);
        var app = await bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed");
        await bed.BindQueueAsync("D", "fed", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await bed.WaitForBindingsAsync("U", "fed", "key", 1);
        var first = $"federation: fed <- u ledger {engine.GetLinks()[0].Id}";
        Assert.True(bed.Broker("D").LedgerExists("/", first));

        // The downstream refuses what the link forwards: the session fails, the immediate retry fails too, and the link
        // waits out its hour between two runs.
        var refusing = true;
        bed.Broker("D").PublishInterceptor = context => context.Exchange == "fed" && Volatile.Read(ref refusing) ? PublishOutcome.Nack : PublishOutcome.Accept;
        await Testbed.PublishAsync(await bed.ConnectAsync("U"), "fed", "key", "m0");
        await Testbed.Eventually(() => logs.WithId(1008).Count >= 2, () => $"{logs.WithId(1008).Count} failed attempts");
        Volatile.Write(ref refusing, false);

        var options = new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } };
        await engine.UpdateAsync(options.Upstream("u2", "U", Slow).Policy("fed", "^fed$", upstream: "u2"), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var second = $"federation: fed <- u2 ledger {engine.GetLinks()[0].Id}";
        Assert.NotEqual(first, second);
        Assert.False(bed.Broker("D").LedgerExists("/", first), "the old link's ledger stayed");
        Assert.True(bed.Broker("D").LedgerExists("/", second));
    }
}
