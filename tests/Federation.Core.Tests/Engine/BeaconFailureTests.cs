using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Beacons (<c>federation.presence.all.clusters</c>) are best effort: whatever refuses them costs the beacons only, never
/// the heartbeats. A client library may report its own timeout as an <see cref="OperationCanceledException"/> although
/// nobody stopped the engine; that escaped the beacons' set-up and failed the whole announcement, every heartbeat, so the
/// instance never announced itself (event 1204), and each attempt left its heartbeat publisher (a channel) open.
/// </summary>
public sealed class BeaconFailureTests : IAsyncLifetime
{
    private const int InstancesChanged = 1201;
    private const int PresenceUnavailable = 1204;
    private const int BeaconsUnavailable = 1213;

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly CapturingLoggerProvider _logs = new();
    private FederationEngine? _engine;

    public async Task InitializeAsync()
    {
        _bed.Broker("D");
        _bed.Broker("U");
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
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
    public async Task A_beacon_binding_that_fails_with_the_clients_own_cancellation_costs_only_the_beacons()
    {
        var transport = new BeaconRefusingTransport(_bed.Transport);
        var options = new FederationOptions { InstanceName = "host-a", ClusterName = "eu-west", Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U")
            .Policy("fed", "^fed$", upstream: "u");
        _engine = new FederationEngine(options, [transport], _logs.AsFactory(), timeProvider: _time);
        await _engine.StartAsync(CancellationToken.None);

        var realDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (_logs.WithId(InstancesChanged).Count == 0 || _engine.GetLinks() is not [{ State: LinkState.Running }])
        {
            Assert.True(DateTime.UtcNow < realDeadline, $"host-a did not announce itself: {string.Join(" | ", _logs.WithId(PresenceUnavailable).Select(l => l.Message))}");
            await Task.Delay(Testbed.PollInterval);
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        // A few more heartbeats: still announced, no failure to announce, and no heartbeat publisher left open per attempt.
        var steady = _time.GetUtcNow();
        while (_time.GetUtcNow() - steady < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(Testbed.PollInterval);
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        Assert.Empty(_logs.WithId(PresenceUnavailable));
        Assert.NotEmpty(_logs.WithId(BeaconsUnavailable));
        Assert.InRange(transport.RefusedBindings, 1, 2);
    }

    /// <summary>The in-memory transport, whose binding to the beacon exchange fails as a client's own timeout does.</summary>
    private sealed class BeaconRefusingTransport(InMemoryTransport inner) : ITransport
    {
        private int _refused;

        public int RefusedBindings => Volatile.Read(ref _refused);

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private sealed class Connection(IBrokerConnection inner, BeaconRefusingTransport transport) : DelegatingBrokerConnection(inner)
        {
            public override ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
            {
                if (binding.Source == FederationBeacon.Exchange)
                {
                    Interlocked.Increment(ref transport._refused);
                    throw new OperationCanceledException("The operation has timed out (the client's own continuation timeout).");
                }

                return base.BindAsync(binding, noWait, cancellationToken);
            }
        }
    }
}
