using Federation.Core.Model;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// "Federation downstream X up again after N failed attempt(s)" (event 2010) counts the attempts at X only: a reload that
/// moves the engine from a downstream it could not reach to another one starts a new episode.
/// </summary>
public sealed class DownstreamRecoveryLogTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    [Fact]
    public async Task Attempts_at_the_downstream_a_reload_left_are_not_counted_for_the_new_one()
    {
        _bed.Broker("D");
        var engine = await _bed.StartEngineAsync("D", o => o.Downstream.Uri = "memory://missing-D/%2f", loggerFactory: _logs.AsFactory());
        await Testbed.Eventually(() => engine.DownstreamError?.Contains("missing-D", StringComparison.Ordinal) == true, () => $"a failed attempt at missing-D; error: {engine.DownstreamError}");

        await engine.UpdateAsync(new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }, CancellationToken.None);
        await Testbed.Eventually(() => engine.IsDownstreamConnected, () => $"connected to D; error: {engine.DownstreamError}");

        // The same downstream lost and back is a recovery, and says so once.
        _bed.Broker("D").Stop();
        await Testbed.Eventually(() => !engine.IsDownstreamConnected && engine.DownstreamError is not null, () => "D lost");

        // Only now is the first connection's 2010, if any, certainly written: IsDownstreamConnected turns true when the
        // session is adopted, before it is published (where 2010 is logged), and the loss is handled after that on the loop.
        Assert.Empty(_logs.WithId(2010));
        _bed.Broker("D").Start();
        await Testbed.Eventually(() => engine.IsDownstreamConnected, () => $"connected to D again; error: {engine.DownstreamError}");
        await Testbed.Eventually(() => _logs.WithId(2010).Count == 1, () => $"one 2010; have {_logs.WithId(2010).Count}");
        Assert.Contains("memory://D", Assert.Single(_logs.WithId(2010)).Message, StringComparison.Ordinal);
    }
}
