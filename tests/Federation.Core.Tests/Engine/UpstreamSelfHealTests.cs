using System.Diagnostics.Metrics;
using Federation.Core.Diagnostics;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The periodic upstream check (every <see cref="LinkSession.InternalExchangeCheckInterval"/>) notices an upstream
/// exchange that was deleted, and one deleted and declared again (as a publisher that redeclares it does), which took the
/// link's bindings along: the link never stays "running" while capturing nothing.
/// </summary>
public sealed class UpstreamSelfHealTests : IAsyncLifetime
{
    private const string Upstream = "upstream";

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly string _instance = $"self-heal-{Guid.NewGuid():N}";
    private readonly List<long> _propagated = [];
    private readonly MeterListener _listener = new();
    private FederationEngine _engine = null!;
    private QueueProbe _queue = null!;
    private QueueProbe _other = null!;
    private IBrokerConnection _app = null!;

    public async Task InitializeAsync()
    {
        // Bindings propagated by this test's engine alone: the instance tag tells them from other tests' running meanwhile.
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == FederationTelemetry.SourceName && instrument.Name == "federation.link.bindings.propagated")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "federation.instance" && Equals(tag.Value, _instance))
                {
                    lock (_propagated)
                    {
                        _propagated.Add(value);
                    }
                }
            }
        });
        _listener.Start();

        _bed.Broker("U");
        _bed.Broker("D");
        var options = new FederationOptions { InstanceName = _instance, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = Upstream)
            .Policy("fed", "^fed\\.", upstream: "u");
        _engine = new FederationEngine(options, [_bed.Transport], timeProvider: _time);
        await _engine.StartAsync(CancellationToken.None);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        _queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        _other = await _bed.BindQueueAsync("D", "fed.downstream", "other");
        await Testbed.WaitForRunningLinksAsync(_engine, 1);
        await _bed.WaitForBindingsAsync("U", Upstream, "key", 1);
        await _bed.WaitForBindingsAsync("U", Upstream, "other", 1);
        _app = await _bed.ConnectAsync("U");
    }

    public async Task DisposeAsync()
    {
        _listener.Dispose();
        await _engine.DisposeAsync();
        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task An_upstream_exchange_deleted_and_declared_again_gets_the_links_bindings_back_at_the_next_check_without_a_restart()
    {
        var running = _engine.GetLinks()[0];
        var propagated = Propagated();
        var declared = _bed.Broker("U").GetExchange("/", Upstream)!;

        // What a publisher that deletes and redeclares its exchange does: the bindings to the link go with the old one.
        await _app.DeleteExchangeAsync(Upstream, CancellationToken.None);
        await _app.DeclareExchangeAsync(declared, CancellationToken.None);
        await Testbed.PublishAsync(_app, Upstream, "key", "LOST");
        Assert.Empty(_bed.Broker("U").GetBindings("/", Upstream));
        Assert.Equal(LinkState.Running, _engine.GetLinks()[0].State);

        await AdvanceChecksUntilAsync(() => _bed.Broker("U").GetBindings("/", Upstream).Count == 2, "both bindings back on the re-created upstream exchange");
        await Testbed.PublishAsync(_app, Upstream, "key", "CAPTURED");
        await Testbed.PublishAsync(_app, Upstream, "other", "ALSO");
        await _queue.ExpectAsync("CAPTURED");
        await _other.ExpectAsync("ALSO");

        // Repaired in place: the same session runs on, and the bindings that went back up count as nothing new.
        var now = _engine.GetLinks()[0];
        Assert.Equal((LinkState.Running, running.Since), (now.State, now.Since));
        Assert.Equal(propagated, Propagated());
    }

    [Fact]
    public async Task An_upstream_exchange_deleted_for_good_restarts_the_link_at_the_next_check_which_declares_it_again()
    {
        var running = _engine.GetLinks()[0];
        await _app.DeleteExchangeAsync(Upstream, CancellationToken.None);
        Assert.Equal(LinkState.Running, _engine.GetLinks()[0].State);

        await AdvanceChecksUntilAsync(
            () => _bed.Broker("U").GetBindings("/", Upstream).Count == 2 && _engine.GetLinks()[0] is { State: LinkState.Running } l && l.Since > running.Since,
            "the link restarted and declared the upstream exchange and its bindings again");
        await Testbed.PublishAsync(_app, Upstream, "key", "CAPTURED");
        await _queue.ExpectAsync("CAPTURED");
    }

    [Fact]
    public async Task A_check_that_finds_the_upstream_as_it_was_leaves_the_link_alone()
    {
        var running = _engine.GetLinks()[0];
        var propagated = Propagated();
        var fired = _time.FiredTimers;
        await AdvanceChecksUntilAsync(() => _time.FiredTimers > fired, "a check ran");

        Assert.Equal((LinkState.Running, running.Since), (_engine.GetLinks()[0].State, _engine.GetLinks()[0].Since));
        Assert.Equal(propagated, Propagated());
        Assert.Equal(2, _bed.Broker("U").GetBindings("/", Upstream).Count);
    }

    private long Propagated()
    {
        lock (_propagated)
        {
            return _propagated.Sum();
        }
    }

    /// <summary>
    /// Moves the fake clock one check interval at a time until <paramref name="condition"/> holds: the session's check
    /// timer may not be armed yet the first time (it is set once the link runs), and further checks change nothing.
    /// </summary>
    private async Task AdvanceChecksUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Testbed.Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out: " + what);
            if (_time.PendingTimers > 0)
            {
                _time.Advance(LinkSession.InternalExchangeCheckInterval);
            }

            await Task.Delay(Testbed.PollInterval);
        }
    }
}
