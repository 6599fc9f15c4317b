using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// An engine runs once: <see cref="FederationEngine.StartAsync"/> after <see cref="FederationEngine.StopAsync"/> says so,
/// and what to do instead, rather than returning as if the federation were running again.
/// </summary>
public sealed class EngineRestartTests : IAsyncDisposable
{
    private readonly Testbed _bed = new();

    public ValueTask DisposeAsync() => _bed.DisposeAsync();

    [Fact]
    public async Task Starting_a_stopped_engine_again_is_refused_with_what_to_do()
    {
        var engine = await _bed.StartEngineAsync("D", _ => { });
        await Testbed.Eventually(() => engine.IsDownstreamConnected, () => "the downstream connected");
        await engine.StopAsync(CancellationToken.None);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.StartAsync(CancellationToken.None));

        Assert.IsNotType<ObjectDisposedException>(error); // stopped, not disposed: the message says what happened
        Assert.Contains("stopped and cannot be started again", error.Message, StringComparison.Ordinal);
        Assert.Contains("create a new FederationEngine", error.Message, StringComparison.Ordinal);
        Assert.False(engine.IsDownstreamConnected);
        Assert.Equal(0, _bed.Broker("D").ConnectionCount);
    }

    [Fact]
    public async Task An_engine_stopped_before_it_started_cannot_be_started_either()
    {
        _bed.Broker("D");
        await using var engine = new FederationEngine(new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }, [_bed.Transport]);
        await engine.StopAsync(CancellationToken.None);

        await Assert.ThrowsAsync<InvalidOperationException>(() => engine.StartAsync(CancellationToken.None));
        Assert.Equal(0, _bed.Broker("D").ConnectionCount);
    }
}
