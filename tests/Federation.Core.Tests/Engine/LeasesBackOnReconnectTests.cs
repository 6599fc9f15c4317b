using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A downstream connection may come without leases (NATS: the key-value bucket could not be looked up in time) and the next
/// one with them. A link that ran without a lease on the first, and on the second waits for another instance that holds
/// it, has no queue of its own to clean up at a clean stop: the holder runs the link from it. The stop took the run
/// without a lease as the last word on the downstream, and deleted the queue under the holder.
/// </summary>
public sealed class LeasesBackOnReconnectTests
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";
    private const string Lease = "federation: lease D fed.downstream -> u";

    [Fact]
    public async Task A_link_that_ran_without_a_lease_and_now_waits_for_another_holder_keeps_the_queue_at_a_clean_stop()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        LeaselessDownstreamTransport? downstream = null;
        bed.WrapTransport = inner => downstream = new LeaselessDownstreamTransport(inner);
        var engine = await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);
        var app = await bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        await bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        Assert.Null(Assert.Single(engine.GetLinks()).Lease);

        // Another instance, whose downstream connection has leases, takes the link's lease; this one's connection is lost,
        // and the next one has leases: the link waits for the holder, which runs it from the upstream queue.
        var other = await bed.ConnectAsync("D");
        Assert.NotNull((await other.Leases!.TryAcquireAsync(new LeaseRequest(Lease, "host-b"), CancellationToken.None)).Lease);
        downstream!.LeasesBack();
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Waiting, LeaseHolder: "host-b" }],
            () => $"the link waits for host-b: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.LeaseHolder} {l.Error}"))}",
            TimeSpan.FromSeconds(30));

        // No heartbeats of host-b here (another configuration, or without SpreadLinks): the stop is a clean one.
        await engine.StopAsync(CancellationToken.None);

        Assert.True(bed.Broker("U").QueueExists("/", UpstreamQueue), "the stop deleted the upstream queue the lease holder runs the link from");
        var stopped = Assert.Single(logs.WithId(1003));
        Assert.Contains("does not hold the link's lease", stopped.Message, StringComparison.Ordinal);
    }

    /// <summary>Without leases on the downstream nobody else runs the link from its queue: a stop between runs deletes it.</summary>
    [Fact]
    public async Task A_link_without_leases_stopped_between_runs_deletes_the_queue()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        bed.WrapTransport = inner => new LeaselessDownstreamTransport(inner);
        var engine = await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => { u.Exchange = "upstream"; u.ReconnectDelaySeconds = 3600; u.ReconnectBackoff = ReconnectBackoffMode.Fixed; })
                .Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);
        var app = await bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        await bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        // The downstream refuses what the link forwards: the session fails, and the link waits out its reconnect delay.
        bed.Broker("D").PublishInterceptor = context => context.Exchange == "fed.downstream" ? PublishOutcome.Nack : PublishOutcome.Accept;
        await Testbed.PublishAsync(await bed.ConnectAsync("U"), "upstream", "key", "m0");
        await Testbed.Eventually(() => logs.WithId(1008).Count >= 2, () => $"{logs.WithId(1008).Count} failed attempts", TimeSpan.FromSeconds(30));

        await app.DeleteExchangeAsync("fed.downstream", CancellationToken.None);

        await Testbed.Eventually(() => logs.WithId(1003).Any(), () => "the link's stop finished (event 1003)", TimeSpan.FromSeconds(30));
        Assert.EndsWith("upstream objects deleted", Assert.Single(logs.WithId(1003)).Message, StringComparison.Ordinal);
        Assert.False(bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue of a link stopped for good stayed");
    }

    /// <summary>Downstream connections without leases until <see cref="LeasesBack"/>, which loses them; the next have leases.</summary>
    private sealed class LeaselessDownstreamTransport(ITransport inner) : ITransport
    {
        private readonly List<IBrokerConnection> _leaseless = [];
        private volatile bool _leasesBack;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public void LeasesBack()
        {
            _leasesBack = true;
            lock (_leaseless)
            {
                foreach (var connection in _leaseless)
                {
                    ((InMemoryConnection)connection).Close(new ConnectionLostException("lost for the test"));
                }
            }
        }

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            var connection = await inner.ConnectAsync(request, cancellationToken);
            if (_leasesBack || !request.Uri.StartsWith(Testbed.Uri("D"), StringComparison.Ordinal))
            {
                return connection;
            }

            lock (_leaseless)
            {
                _leaseless.Add(connection);
            }

            return new Leaseless(connection);
        }

        private sealed class Leaseless(IBrokerConnection inner) : DelegatingBrokerConnection(inner)
        {
            public override IBrokerLeases? Leases => null;
        }
    }
}
