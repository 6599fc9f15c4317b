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
    // 5 s (the drain timeout), then one 0.5 s grace; each used to wait its own bound, 14 s in all. The bound leaves room for
    // a loaded machine, inside the 30 s a host gets to stop (Kubernetes' default grace period).
    private static readonly TimeSpan StopWithin = TimeSpan.FromSeconds(20);
    private readonly ScenarioContext context = new();
    private int? frozenPid;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await ThawAsync();
        await context.DisposeAsync();
    }

    [Fact]
    public async Task An_engine_stops_in_bounded_time_while_the_downstream_is_frozen()
    {
        var exchange = ScenarioContext.UniqueName("fed.frozen");
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, null)));
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);

        await FreezeAsync();
        var clock = Stopwatch.StartNew();
        await engine.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, StopWithin);
    }

    private async Task FreezeAsync()
    {
        var pid = int.Parse(File.ReadAllText(nodes.Downstream.PidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        frozenPid = pid;
        await SignalAsync("STOP", pid);
        await Poll.UntilAsync(() => Task.FromResult<object?>(State(pid) == 'T' ? true : null), $"the downstream node {pid} to be stopped (SIGSTOP)");
    }

    private async Task ThawAsync()
    {
        if (frozenPid is { } pid)
        {
            frozenPid = null;
            await SignalAsync("CONT", pid);
        }
    }

    private static async Task SignalAsync(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {pid}") { UseShellExecute = false }) ?? throw new InvalidOperationException("kill did not start");
        await kill.WaitForExitAsync();
    }

    // The third field of /proc/<pid>/stat after the parenthesised name: 'T' once the process is stopped.
    private static char State(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..][0];
    }
}

