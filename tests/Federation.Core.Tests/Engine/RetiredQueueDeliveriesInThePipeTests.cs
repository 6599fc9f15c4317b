using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The forwarding of an upstream queue that a rename left behind (event 2033) deletes the queue once it is empty. The
/// count it asks the broker for is of ready messages only: what the broker already delivered to the forwarding's
/// consumer, but what has not reached the session yet (in the socket, in the client's dispatcher), is in no count. Until
/// 6 Dec 2026 the queue counted as empty once two counts 100 ms apart saw nothing ready and no delivery had come between
/// them: with a fake clock (both counts without real time between them), and on a loaded machine, the deliveries on
/// their way were deleted with the queue (5 lost in a helper's runs). Now the forwarding closes its consumer, which gives
/// them back, before the count that decides.
/// </summary>
public sealed class RetiredQueueDeliveriesInThePipeTests : IAsyncLifetime
{
    private const string OldQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly FakeTimeProvider _time = new();
    private readonly Pipe _pipe = new();

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => new PipeTransport(inner, _pipe);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _pipe.ReleaseAll();
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(string? clusterName = null) =>
        new FederationOptions { ClusterName = clusterName, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u =>
            {
                u.Exchange = "upstream";
                u.PrefetchCount = 10;
            })
            .Policy("fed", "^fed\\.", upstream: "u");

    [Fact]
    public async Task Deliveries_on_their_way_to_the_forwarding_when_nothing_is_ready_arrive_before_the_old_queue_is_deleted()
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            Testbed.AddUpstreamsAndPolicies(o, Configuration());
        }, loggerFactory: _logs.AsFactory(), time: _time);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var downstream = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        // Renamed while the downstream cannot be reached: the old queue buffers 5 messages for the new link.
        _pipe.HoldDownstream();
        await engine.UpdateAsync(Configuration(clusterName: "D2"), CancellationToken.None);
        var upstream = await _bed.ConnectAsync("U");
        string[] expected = [.. Enumerable.Range(0, 5).Select(i => $"while-renamed-{i}")];
        foreach (var body in expected)
        {
            await Testbed.PublishAsync(upstream, "upstream", "key", body);
        }

        Assert.Equal(5, _bed.Broker("U").GetMessageCount("/", OldQueue));

        // The new link forwards the old queue; the broker hands its consumer all 5 (prefetch 10), and they stay on their
        // way to the session: nothing is ready in the queue, nothing is in flight in the session.
        _pipe.HoldNextConsumer();
        _pipe.ReleaseDownstream();
        await Testbed.Eventually(
            () => _pipe.Piped > 0 && _bed.Broker("U").GetMessageCount("/", OldQueue) == 0,
            () => $"{_pipe.Piped} in the pipe, {_bed.Broker("U").GetMessageCount("/", OldQueue)} ready in the old queue",
            TimeSpan.FromSeconds(30));

        // The clock steps past several counts, none of which sees a message ready, until the forwarding deletes the queue.
        for (var steps = 0; _bed.Broker("U").QueueExists("/", OldQueue); steps++)
        {
            Assert.True(steps < 50, $"The old queue is still there after {steps} polls: D has [{string.Join(",", downstream.Bodies)}]");
            var counted = _pipe.Counts;
            _time.Advance(LinkSession.DrainPollInterval);
            await Testbed.Eventually(
                () => _pipe.Counts > counted || !_bed.Broker("U").QueueExists("/", OldQueue),
                () => "the forwarding counted the old queue's messages after the clock moved",
                TimeSpan.FromSeconds(30));
        }

        // Deleted with nothing in it (event 1028 would come before 2033): every message was forwarded first, once.
        await Testbed.Eventually(() => _logs.WithId(2033).Count == 1, () => "the forwarding logged once it returned (event 2033)", TimeSpan.FromSeconds(30));
        Assert.True(_logs.WithId(1028).Count == 0, $"discarded: [{string.Join(" | ", _logs.WithId(1028).Select(e => e.Message))}]");
        await Testbed.Eventually(
            () => Enumerable.SequenceEqual(downstream.Bodies.Order(StringComparer.Ordinal), expected),
            () => $"D has [{string.Join(",", downstream.Bodies)}]",
            TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Holds connects to the downstream while asked, counts the counts of <see cref="OldQueue"/>, and holds every delivery to
    /// the next consumer of <see cref="OldQueue"/> once asked before it reaches the session, until released (or the consumer
    /// stops).
    /// </summary>
    private sealed class Pipe
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _downstreamOpen = Open();
        private int _armed;
        private int _piped;
        private int _counts;

        public int Piped => Volatile.Read(ref _piped);

        public int Counts => Volatile.Read(ref _counts);

        public Task DownstreamOpen => Volatile.Read(ref _downstreamOpen).Task;

        public void HoldDownstream() => Volatile.Write(ref _downstreamOpen, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void ReleaseDownstream() => Volatile.Read(ref _downstreamOpen).TrySetResult();

        public void ReleaseAll()
        {
            ReleaseDownstream();
            _released.TrySetResult();
        }

        /// <summary>The next consumer of <see cref="OldQueue"/> (the forwarding's, once the old link has stopped) has its deliveries held.</summary>
        public void HoldNextConsumer() => Volatile.Write(ref _armed, 1);

        public void Counted() => Interlocked.Increment(ref _counts);

        public DeliveryHandler Wrap(DeliveryHandler handler)
        {
            if (Interlocked.Exchange(ref _armed, 0) != 1)
            {
                return handler;
            }

            return async (delivery, cancellationToken) =>
            {
                Interlocked.Increment(ref _piped);
                await _released.Task.WaitAsync(cancellationToken);
                await handler(delivery, cancellationToken);
            };
        }

        private static TaskCompletionSource Open()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }

    private sealed class PipeTransport(ITransport inner, Pipe pipe) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public TransportCapabilities Capabilities => inner.Capabilities;

        public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            if (request.Uri.StartsWith(Testbed.Uri("U"), StringComparison.Ordinal))
            {
                return new Connection(await inner.ConnectAsync(request, cancellationToken), pipe);
            }

            await pipe.DownstreamOpen.WaitAsync(cancellationToken);
            return await inner.ConnectAsync(request, cancellationToken);
        }

        private sealed class Connection(IBrokerConnection inner, Pipe pipe) : DelegatingBrokerConnection(inner)
        {
            public override async ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken)
            {
                var count = await Inner.CountQueueMessagesAsync(name, cancellationToken);
                if (name == OldQueue)
                {
                    pipe.Counted();
                }

                return count;
            }

            public override ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
                Inner.ConsumeAsync(queue, options, queue == OldQueue ? pipe.Wrap(handler) : handler, cancellationToken);
        }
    }
}
