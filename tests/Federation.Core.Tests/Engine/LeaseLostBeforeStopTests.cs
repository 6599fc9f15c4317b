using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A link stopped for good moments after it lost its lease with the downstream connection still cleans up, when the lease
/// is free on the next connection. RabbitMQ closes the whole downstream connection on some client channel errors
/// (rabbitmq-dotnet-client #1835: publishes racing the deletion of their exchange, 504 "expected 'channel.open'"); the
/// engine reconnected, saw the exchange gone and stopped the link while its retry was still asking for the lease, and the
/// stop kept the upstream queue as another instance's (a CI run of DownstreamExchangeDeletedUnderTrafficTests, 7 Dec
/// 2026): it stayed on the upstream, bound and filling. The stop now asks for the lease once; only another holder keeps
/// the queue. A link whose queue goes to another link drops its ledger the same way, and one that a reload to another
/// downstream stops retires its queue (before, both stayed for good, the queue filling).
/// </summary>
public sealed class LeaseLostBeforeStopTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";
    private const string Lease = "federation: lease D fed.downstream -> u";

    private readonly CapturingLoggerProvider _logs = new();
    private readonly Testbed _bed = new();
    private StallingLeasesTransport _downstream = null!;
    private FederationEngine _engine = null!;
    private IBrokerConnection _app = null!;

    /// <summary>One link, running, its binding on the upstream.</summary>
    public async Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _downstream = new StallingLeasesTransport(inner);
        _engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: _logs.AsFactory());
        _app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(_app, "fed.downstream");
        await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(_engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
    }

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    [Fact]
    public async Task A_link_whose_exchange_is_deleted_while_it_asks_again_for_a_lost_lease_deletes_its_upstream_objects()
    {
        var publisher = await _bed.ConnectAsync("U");
        await Testbed.PublishAsync(publisher, "upstream", "key", "m0");

        await LoseTheLeaseAsync();
        await Testbed.Eventually(() => _logs.WithId(2001).Count >= 2, () => $"the engine connected again ({_logs.WithId(2001).Count} connects)");
        Assert.Contains("lost for the test", Assert.Single(_logs.WithId(2041)).Message, StringComparison.Ordinal);

        // Messages go on reaching the link's queue, which nobody consumes now.
        await Testbed.PublishAsync(publisher, "upstream", "key", "m1");
        await _app.DeleteExchangeAsync("fed.downstream", CancellationToken.None);

        await Testbed.Eventually(() => _logs.WithId(1003).Any(), () => "the link's stop finished (event 1003)");
        var stop = Assert.Single(_logs.WithId(1003)).Message;
        Assert.True(stop.EndsWith("upstream objects deleted", StringComparison.Ordinal), stop);
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue of a link stopped for good stayed");
        Assert.False(_bed.Broker("D").QueueExists("/", Lease), "the lease taken for the cleanup was not released");
    }

    [Fact]
    public async Task Another_holder_of_the_lease_keeps_the_queue_of_a_link_stopped_without_it()
    {
        await LoseTheLeaseAsync();

        // Another instance takes the free lease before the stop asks: it may run the link from the queue.
        var other = await _bed.ConnectAsync("D");
        Assert.NotNull((await other.Leases!.TryAcquireAsync(new LeaseRequest(Lease, "host-b"), CancellationToken.None)).Lease);
        await Testbed.Eventually(() => _logs.WithId(2001).Count >= 2, () => $"the engine connected again ({_logs.WithId(2001).Count} connects)");
        await _engine.StopAsync(CancellationToken.None);

        var stopped = Assert.Single(_logs.WithId(1003));
        Assert.True(stopped.Message.Contains("does not hold the link's lease", StringComparison.Ordinal) && stopped.Message.Contains("'host-b' holds it", StringComparison.Ordinal), stopped.Message);
        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the stop deleted the upstream queue the lease holder runs the link from");
    }

    [Fact]
    public async Task A_link_whose_queue_a_renamed_upstream_takes_over_while_it_asks_again_for_a_lost_lease_drops_its_ledger()
    {
        var ledger = $"federation: fed.downstream <- u ledger {_engine.GetLinks()[0].Id}";
        Assert.True(_bed.Broker("D").LedgerExists("/", ledger));
        await LoseTheLeaseAsync();
        await Testbed.Eventually(() => _logs.WithId(2001).Count >= 2, () => $"the engine connected again ({_logs.WithId(2001).Count} connects)");

        // The same upstream broker and exchange under another name: the new link (another id, so another ledger) takes the
        // queue over, and the old link stops for good while its retry still asks for the lease.
        var renamed = new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }.Upstream("u2", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u2");
        await _engine.UpdateAsync(renamed, CancellationToken.None);
        await Testbed.Eventually(() => _engine.GetLinks() is [{ State: LinkState.Running } link] && link.Upstream == "u2", () => "the renamed upstream's link runs");

        Assert.False(_bed.Broker("D").LedgerExists("/", ledger), "the old link's ledger stayed on the downstream");
        Assert.False(_bed.Broker("D").QueueExists("/", Lease), "the lease taken to drop the ledger was not released");
        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue), "the queue the new link took over was deleted");
    }

    [Fact]
    public async Task A_link_that_a_reload_to_another_downstream_stops_while_it_asks_again_for_a_lost_lease_retires_its_queue()
    {
        _bed.Broker("D2");
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D2"), "fed.downstream");
        await LoseTheLeaseAsync();
        await Testbed.Eventually(() => _logs.WithId(2001).Count >= 2, () => $"the engine connected again ({_logs.WithId(2001).Count} connects)");

        // Another downstream: the old link stops while its retry still asks for the lease, and its queue, held until moments
        // ago, goes once the new link's is bound rather than staying on the upstream for good, filling.
        var moved = new FederationOptions { Downstream = { Uri = Testbed.Uri("D2") } }.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u");
        await _engine.UpdateAsync(moved, CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(_engine, 1);
        Assert.True(_bed.Broker("U").QueueExists("/", "federation: upstream -> D2:fed.downstream"));
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", UpstreamQueue), () => "the old downstream's upstream queue deleted");
    }

    /// <summary>
    /// The engine's downstream connection goes, and the lease with it; the link's next ask for it hangs (as one that the
    /// stop overtakes), and the engine connects again.
    /// </summary>
    private async Task LoseTheLeaseAsync()
    {
        _downstream.StallNextAsk(Lease);
        _downstream.CloseEngineConnections();
        await Testbed.Eventually(() => _downstream.Stalled, () => "the link asks for its lease again on the next connection");
    }

    /// <summary>
    /// The engine's downstream connections, closable by the test; after <see cref="StallNextAsk"/>, the next ask for that
    /// lease waits until it is cancelled (the asks after it go through).
    /// </summary>
    private sealed class StallingLeasesTransport(ITransport inner) : ITransport
    {
        private readonly List<InMemoryConnection> _connections = [];
        private string? _stallFor;
        private volatile bool _stalled;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        /// <summary>Whether the stalled ask has begun.</summary>
        public bool Stalled => _stalled;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public void StallNextAsk(string lease)
        {
            lock (_connections)
            {
                _stallFor = lease;
            }
        }

        public void CloseEngineConnections()
        {
            lock (_connections)
            {
                foreach (var connection in _connections)
                {
                    connection.Close(new ConnectionLostException("lost for the test"));
                }

                _connections.Clear();
            }
        }

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            var connection = await inner.ConnectAsync(request, cancellationToken);
            if (!request.Uri.StartsWith(Testbed.Uri("D"), StringComparison.Ordinal))
            {
                return connection;
            }

            lock (_connections)
            {
                _connections.Add((InMemoryConnection)connection);
            }

            return new Stalling(connection, this);
        }

        private bool TakeStall(string lease)
        {
            lock (_connections)
            {
                if (_stallFor != lease)
                {
                    return false;
                }

                _stallFor = null;
                return true;
            }
        }

        private sealed class Stalling(IBrokerConnection connection, StallingLeasesTransport owner) : DelegatingBrokerConnection(connection), IBrokerConnection
        {
            public override IBrokerLeases? Leases => Inner.Leases is { } leases ? new StallingLeases(leases, owner) : null;

            // Duplicate suppression on, as by default: the links keep ledgers.
            public ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) => Inner.OpenLedgerAsync(options, cancellationToken);

            public ValueTask DeleteLedgerAsync(string name, CancellationToken cancellationToken) => Inner.DeleteLedgerAsync(name, cancellationToken);
        }

        private sealed class StallingLeases(IBrokerLeases inner, StallingLeasesTransport owner) : IBrokerLeases
        {
            public async ValueTask<LeaseAttempt> TryAcquireAsync(LeaseRequest request, CancellationToken cancellationToken)
            {
                if (owner.TakeStall(request.Name))
                {
                    owner._stalled = true;
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }

                return await inner.TryAcquireAsync(request, cancellationToken);
            }
        }
    }
}
