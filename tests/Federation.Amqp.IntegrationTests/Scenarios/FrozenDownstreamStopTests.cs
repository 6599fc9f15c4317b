using System.Diagnostics;
using Federation.Core;
using Federation.Core.Links;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A stop does not wait for a downstream that does not answer: with the downstream node frozen (SIGSTOP), an engine running
/// a link stops in bounded time, releasing its lease, leaving and closing the downstream connection in the background
/// once they take too long (before, closing the connection waited for the node to answer: the stop never ended).
/// </summary>
[Collection(RestartScenarioCollection.Name)]
public sealed class FrozenDownstreamStopTests(RestartScenarioNodesFixture nodes) : IAsyncLifetime
{
    // The downstream steps (the ledger's close, the lease release, leaving, the connection close) share the stop's deadline:
    // 5 s (the drain timeout), then one 0.5 s grace; each used to wait its own bound, 14 s in all (14.0-14.7 s measured with
    // both cores busy). The bound leaves room for a loaded machine's late timers, inside the 30 s a host gets to stop
    // (Kubernetes' default grace period), and still fails for a step that waits for the frozen node instead of the deadline:
    // RabbitMQ.Client's 20 s continuation timeout takes such a stop past 25 s (54 s when the ledger's deletion was unbounded).
    private static readonly TimeSpan StopWithin = TimeSpan.FromSeconds(20);
    private readonly ScenarioContext context = new();
    private readonly CapturedLogs logs = new();
    private readonly FrozenNode freezer = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await freezer.ThawAsync();
        await context.DisposeAsync();
        logs.Dispose();
    }

    [Fact]
    public async Task An_engine_stops_in_bounded_time_while_the_downstream_is_frozen()
    {
        var exchange = ScenarioContext.UniqueName("fed.frozen");
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, null)), loggerFactory: logs);
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);

        await freezer.FreezeAsync(nodes.Downstream, "downstream");
        var frozen = logs.Now;
        var clock = Stopwatch.StartNew();
        try
        {
            await engine.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            // Reported below, with what was logged meanwhile.
        }

        var took = clock.Elapsed;

        // What the stop logged, timed from the freeze, shows which step took the time.
        Assert.True(took <= StopWithin, $"The stop took {took.TotalSeconds:F1} s, more than {StopWithin.TotalSeconds} s; since the freeze:\n{logs.Timeline(frozen)}");
    }
}

