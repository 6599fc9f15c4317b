using Federation.Core.Links;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// An upstream that stops answering (a frozen broker, a black-holed network) while a link runs: cancelling its consumer
/// and closing its connection never complete. Found against a SIGSTOPped RabbitMQ node: a restart left the link showing
/// "running" for 70 s, and a SIGTERM took the host's whole shutdown timeout. The teardown now waits for such an upstream
/// one drain timeout (5 s) and leaves the rest to the background.
/// </summary>
public sealed class UnansweringUpstreamTeardownTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private FreezingTransport _transport = null!;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _transport = new FreezingTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _transport.Thaw();
        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task A_restart_does_not_wait_for_an_upstream_that_never_answers_and_the_link_runs_again()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        var before = Assert.Single(engine.GetLinks());
        _transport.FreezeUpstream();

        Assert.True(await engine.RestartLinkAsync(before.Id, CancellationToken.None));

        // Before, the old session's teardown waited for the frozen consumer and connection for good.
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Since > before.Since,
            () => $"link {engine.GetLinks()[0].State} since {engine.GetLinks()[0].Since:O}, before {before.Since:O}",
            TimeSpan.FromSeconds(15));

        // The new session forwards. The old consumer may still hold a delivery until its connection finally closes
        // (as RabbitMQ holds one for a consumer it has not yet found dead); then it comes back and is forwarded once.
        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "after the restart");
        _transport.Thaw();
        await queue.ExpectAsync("after the restart");
    }

    [Fact]
    public async Task Stopping_the_engine_does_not_wait_for_an_upstream_that_never_answers()
    {
        var (engine, _) = await _bed.StartSimpleLinkAsync();
        _transport.FreezeUpstream();

        var stopping = engine.StopAsync(CancellationToken.None);

        var finished = await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(15)));
        Assert.Same(stopping, finished);
        await stopping;
    }

    [Fact]
    public async Task The_last_ack_flush_and_the_consumer_cancel_share_one_drain_timeout()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        _transport.FreezeUpstream();

        // Forwarded, and its ack waits for the frozen upstream: the stop's last ack flush cannot finish, nor can the cancel.
        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "its ack never arrives");
        await queue.ExpectAsync("its ack never arrives");
        var watch = System.Diagnostics.Stopwatch.StartNew();

        await engine.StopAsync(CancellationToken.None);

        // Each waiting its own drain timeout (5 s) took at least 10 s; sharing one, about 5 s. (A black-box run's SIGTERM
        // with one frozen node as upstream and downstream took 12-14 s for one link.)
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8.5), $"the stop took {watch.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>
    /// Passes everything through, until <see cref="FreezeUpstream"/>: from then on the consumers and connections already
    /// open on the upstream broker "U" never finish closing nor acknowledge (until <see cref="Thaw"/>); new ones work.
    /// </summary>
    private sealed class FreezingTransport(ITransport inner) : ITransport
    {
        private readonly TaskCompletionSource _thawed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<FreezableConnection> _upstreamConnections = [];

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public Task Thawed => _thawed.Task;

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            var connection = new FreezableConnection(await inner.ConnectAsync(request, cancellationToken), this);
            if (request.Uri.StartsWith(Testbed.Uri("U"), StringComparison.Ordinal))
            {
                lock (_upstreamConnections)
                {
                    _upstreamConnections.Add(connection);
                }
            }

            return connection;
        }

        public void FreezeUpstream()
        {
            lock (_upstreamConnections)
            {
                foreach (var connection in _upstreamConnections)
                {
                    connection.Frozen = true;
                }
            }
        }

        public void Thaw() => _thawed.TrySetResult();
    }

    private sealed class FreezableConnection(IBrokerConnection inner, FreezingTransport transport) : DelegatingBrokerConnection(inner)
    {
        public volatile bool Frozen;

        public override async ValueTask<IMessageConsumer> ConsumeAsync(string queue, ConsumerOptions options, DeliveryHandler handler, CancellationToken cancellationToken) =>
            new FreezableConsumer(await Inner.ConsumeAsync(queue, options, handler, cancellationToken), this, transport);

        public override async ValueTask DisposeAsync()
        {
            if (Frozen)
            {
                await transport.Thawed;
            }

            await Inner.DisposeAsync();
        }
    }

    private sealed class FreezableConsumer(IMessageConsumer inner, FreezableConnection connection, FreezingTransport transport) : IMessageConsumer
    {
        public Task Completion => inner.Completion;

        public bool CanRequeue => inner.CanRequeue;

        public async ValueTask AckAsync(ulong deliveryTag, bool multiple, CancellationToken cancellationToken)
        {
            if (connection.Frozen)
            {
                await transport.Thawed;
            }

            await inner.AckAsync(deliveryTag, multiple, cancellationToken);
        }

        public ValueTask NackAsync(ulong deliveryTag, bool multiple, bool requeue, CancellationToken cancellationToken) =>
            inner.NackAsync(deliveryTag, multiple, requeue, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            if (connection.Frozen)
            {
                await transport.Thawed;
            }

            await inner.DisposeAsync();
        }
    }
}
