using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// <see cref="FederationEngine"/> after <see cref="FederationEngine.DisposeAsync"/>: disposing again is harmless, and every
/// call that would start or change something fails with an <see cref="ObjectDisposedException"/> naming the engine, instead
/// of doing nothing or naming an internal type.
/// </summary>
public sealed class EngineDisposalTests : IAsyncDisposable
{
    private readonly Testbed _bed = new();

    public ValueTask DisposeAsync() => _bed.DisposeAsync();

    private static FederationOptions Options() => new() { Downstream = { Uri = Testbed.Uri("D") } };

    [Fact]
    public async Task A_disposed_engine_that_never_started_can_be_disposed_again_and_refuses_start_update_and_restart()
    {
        _bed.Broker("D");
        var engine = new FederationEngine(Options(), [_bed.Transport]);

        await engine.DisposeAsync();
        await engine.DisposeAsync();

        await AssertRefusedAsync(() => engine.StartAsync(CancellationToken.None));
        await AssertRefusedAsync(() => engine.UpdateAsync(Options(), CancellationToken.None));
        await AssertRefusedAsync(() => engine.RestartLinkAsync("any", CancellationToken.None));
        Assert.False(engine.IsDownstreamConnected);
    }

    [Fact]
    public async Task A_disposed_running_engine_can_be_disposed_again_and_refuses_start_and_update()
    {
        var engine = await _bed.StartEngineAsync("D", _ => { });
        await Testbed.Eventually(() => engine.IsDownstreamConnected, () => "the downstream connected");

        await engine.DisposeAsync();
        await engine.DisposeAsync();
        await engine.StopAsync(CancellationToken.None);

        await AssertRefusedAsync(() => engine.StartAsync(CancellationToken.None));
        await AssertRefusedAsync(() => engine.UpdateAsync(Options(), CancellationToken.None));
        Assert.Equal(0, _bed.Broker("D").ConnectionCount);
    }

    [Fact]
    public async Task An_update_after_a_stop_names_the_engine_not_its_internal_supervisor()
    {
        var engine = await _bed.StartEngineAsync("D", _ => { });
        await engine.StopAsync(CancellationToken.None);

        await AssertRefusedAsync(() => engine.UpdateAsync(Options(), CancellationToken.None));
    }

    private static async Task AssertRefusedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<ObjectDisposedException>(call);
        Assert.Equal(typeof(FederationEngine).FullName, error.ObjectName);
    }
}
