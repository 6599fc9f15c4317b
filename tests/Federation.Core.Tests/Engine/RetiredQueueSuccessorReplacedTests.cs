using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A reload renames the downstream (same broker and vhost), so the new link forwards the old link's upstream queue; then
/// another reload restarts that new link (another <c>prefetch-count</c>) while it forwards. The forwarding is cut short and
/// the old queue goes back to wait for the link that replaces it. That hand-back came only once the cut-short forwarding
/// had closed its session (up to a drain timeout), after the reconciliation had already handed the waiting queues to the
/// links it started: the old queue then waited for the next reconciliation (the next reload or exchange change), which
/// might never come, holding what it buffered.
/// </summary>
public sealed class RetiredQueueSuccessorReplacedTests : IAsyncLifetime
{
    private const string OldQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly DrainHoldingTransport.Gates _gates = new();

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => new DrainHoldingTransport(inner, _gates);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _gates.ReleaseAll();
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(string? clusterName = null, int prefetch = 10) =>
        new FederationOptions { ClusterName = clusterName, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u =>
            {
                u.Exchange = "upstream";
                u.PrefetchCount = prefetch;
            })
            .Policy("fed", "^fed\\.", upstream: "u");

    [Fact]
    public async Task A_successor_restarted_while_it_forwards_the_old_queue_is_followed_by_its_replacement_which_forwards_it()
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            Testbed.AddUpstreamsAndPolicies(o, Configuration());
        }, loggerFactory: _logs.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var downstream = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        // Renamed while the downstream cannot be reached: the old queue buffers, bound, for the new link.
        _gates.HoldDownstream();
        await engine.UpdateAsync(Configuration(clusterName: "D2"), CancellationToken.None);
        var upstream = await _bed.ConnectAsync("U");
        for (var i = 0; i < 5; i++)
        {
            await Testbed.PublishAsync(upstream, "upstream", "key", $"while-renamed-{i}");
        }

        Assert.Equal(5, _bed.Broker("U").GetMessageCount("/", OldQueue));

        // The new link binds its queue and starts forwarding the old one; that forwarding is held, and its connection
        // closes slowly once cut short.
        _gates.HoldNextDrain();
        _gates.ReleaseDownstream();
        await _gates.DrainHeld.WaitAsync(TimeSpan.FromSeconds(30));

        // Restarted: the link that replaces it must take the forwarding over.
        await engine.UpdateAsync(Configuration(clusterName: "D2", prefetch: 20), CancellationToken.None);

        await Testbed.Eventually(
            // Event 2033 is logged once the forwarding returns, after it deleted the queue: waited for as well.
            () => !_bed.Broker("U").QueueExists("/", OldQueue) && Enumerable.Range(0, 5).All(i => downstream.Bodies.Contains($"while-renamed-{i}")) && _logs.WithId(2033).Count > 0,
            () => $"old queue exists: {_bed.Broker("U").QueueExists("/", OldQueue)}; D has [{string.Join(",", downstream.Bodies)}]; 2033 logged: {_logs.WithId(2033).Count}",
            TimeSpan.FromSeconds(30));
        Assert.Empty(_logs.WithId(1028));
    }

    /// <summary>
    /// Holds connects to the downstream while asked; holds the first forwarding of <see cref="OldQueue"/> (its first count)
    /// once asked, until cut short, and then closes that forwarding's upstream connection only when the test ends.
    /// </summary>
    private sealed class DrainHoldingTransport(ITransport inner, DrainHoldingTransport.Gates gates) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public TransportCapabilities Capabilities => inner.Capabilities;

        public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            if (request.Uri.StartsWith(Testbed.Uri("U"), StringComparison.Ordinal))
            {
                return new Connection(await inner.ConnectAsync(request, cancellationToken), gates);
            }

            await Volatile.Read(ref gates.DownstreamOpen).Task.WaitAsync(cancellationToken);
            return await inner.ConnectAsync(request, cancellationToken);
        }

        internal sealed class Gates
        {
            public TaskCompletionSource DownstreamOpen = Completed();
            private readonly TaskCompletionSource _drainHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
            private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
            private int _holdNextDrain;

            public Task DrainHeld => _drainHeld.Task;

            public Task Released => _released.Task;

            public void HoldDownstream() => Volatile.Write(ref DownstreamOpen, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

            public void ReleaseDownstream() => Volatile.Read(ref DownstreamOpen).TrySetResult();

            public void HoldNextDrain() => Volatile.Write(ref _holdNextDrain, 1);

            public bool TakeDrainHold()
            {
                if (Interlocked.Exchange(ref _holdNextDrain, 0) == 1)
                {
                    _drainHeld.TrySetResult();
                    return true;
                }

                return false;
            }

            public void ReleaseAll()
            {
                ReleaseDownstream();
                _released.TrySetResult();
            }

            private static TaskCompletionSource Completed()
            {
                var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                open.SetResult();
                return open;
            }
        }

        private sealed class Connection(IBrokerConnection inner, Gates gates) : DelegatingBrokerConnection(inner)
        {
            private volatile bool _held;

            public override async ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken)
            {
                if (name == OldQueue && gates.TakeDrainHold())
                {
                    _held = true;
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }

                return await Inner.CountQueueMessagesAsync(name, cancellationToken);
            }

            public override async ValueTask DisposeAsync()
            {
                if (_held)
                {
                    await gates.Released;
                }

                await Inner.DisposeAsync();
            }
        }
    }
}
