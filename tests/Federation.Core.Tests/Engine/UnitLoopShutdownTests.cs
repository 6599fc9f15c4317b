using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Stopping a link with duplicate suppression while a forward is starting a run of the unit loop: the ledger is closed
/// only once that run has committed, not while it still publishes.
/// </summary>
/// <remarks>
/// The race, made to happen: the forward has taken the loop's flag and is inside the run's first commit (held in the
/// ledger on its own thread), so the run's task is not stored yet. The stop then waits for the in-flight forward up to
/// its drain timeout (5 s, on the fake clock); the test lets that pass. The fake clock runs the timer, and with it the
/// stop's continuation, inside <see cref="FakeTimeProvider.Advance"/>: a stop that looks only at the last stored run
/// (none running) closes the ledger before Advance returns, while the commit is still held.
/// </remarks>
public sealed class UnitLoopShutdownTests : IAsyncLifetime
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5); // ExchangeLink's
    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private GatedLedgerTransport _transport = null!;
    private FederationEngine _engine = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _transport?.Release();
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task A_run_started_by_a_forward_that_raced_the_stop_commits_before_the_ledger_is_closed()
    {
        _bed.Broker("U");
        _bed.Broker("D");
        _transport = new GatedLedgerTransport(_bed.Transport);
        var options = new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed\\.", upstream: "u");
        _engine = new FederationEngine(options, [_transport], timeProvider: _time);
        await _engine.StartAsync(CancellationToken.None);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(_engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        _transport.Arm();
        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "raced", new MessageProperties { MessageId = "raced" });
        await Testbed.Eventually(() => _transport.Entered, () => "the forward's commit held in the ledger");

        var waitsBefore = _time.TimersDueIn(DrainTimeout);
        var stopping = Task.Run(() => _engine.StopAsync(CancellationToken.None));
        await Testbed.Eventually(() => _time.TimersDueIn(DrainTimeout) > waitsBefore, () => "the stop waiting for the in-flight forward");
        _time.Advance(DrainTimeout);

        Assert.False(_transport.ClosedWhileCommitting, "the ledger was closed while the forward's run was committing");
        _transport.Release();
        await stopping.WaitAsync(Testbed.Deadline);
        Assert.False(_transport.ClosedWhileCommitting, "the ledger was closed while the forward's run was committing");
        await queue.ExpectAsync("raced");
    }
}
