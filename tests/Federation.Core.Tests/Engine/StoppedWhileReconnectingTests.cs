using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A link stopped for good while it connects to its upstream again (the immediate retry after a failed run, or any
/// reconnect) cleans up the upstream objects its earlier run declared, as one stopped while it waits out its reconnect
/// delay does. The stop cancels that connect, which says nothing about whether the upstream can be reached; before, the
/// cancelled connect counted as "its last attempt could not reach the upstream", and the queue stayed bound and filling.
/// </summary>
public sealed class StoppedWhileReconnectingTests
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";

    [Fact]
    public async Task Deleting_the_exchange_of_a_link_whose_reconnect_is_under_way_deletes_its_upstream_objects()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        HoldingTransport? holding = null;
        bed.WrapTransport = inner => holding = new HoldingTransport(inner);
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

        // The downstream refuses what the link forwards: the session fails, and the link's immediate retry connects to the
        // upstream again, a connect that hangs here until the stop cancels it.
        holding!.HoldNextUpstreamConnect();
        bed.Broker("D").PublishInterceptor = context => context.Exchange == "fed.downstream" ? PublishOutcome.Nack : PublishOutcome.Accept;
        await Testbed.PublishAsync(await bed.ConnectAsync("U"), "upstream", "key", "m0");
        await holding.Held.WaitAsync(TimeSpan.FromSeconds(30));

        await app.DeleteExchangeAsync("fed.downstream", CancellationToken.None);

        // The link leaves GetLinks() when its stop begins; its one 1003 says the stop (and its cleanup) is over.
        await Testbed.Eventually(() => logs.WithId(1003).Any(), () => "the link's stop finished (event 1003)", TimeSpan.FromSeconds(30));
        Assert.Empty(engine.GetLinks());
        Assert.Contains(logs.WithId(1003), e => e.Message.EndsWith("upstream objects deleted", StringComparison.Ordinal));
        Assert.False(bed.Broker("U").QueueExists("/", UpstreamQueue), "the upstream queue of a link stopped during a reconnect stayed");
    }

    [Fact]
    public async Task A_link_stopped_during_its_first_connect_says_it_never_reached_the_upstream_not_that_it_could_not()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        HoldingTransport? holding = null;
        bed.WrapTransport = inner =>
        {
            holding = new HoldingTransport(inner);
            holding.HoldNextUpstreamConnect();
            return holding;
        };
        var app = await bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);
        await holding!.Held.WaitAsync(TimeSpan.FromSeconds(30));

        await app.DeleteExchangeAsync("fed.downstream", CancellationToken.None);

        await Testbed.Eventually(() => logs.WithId(1003).Any(), () => "the link's stop finished (event 1003)", TimeSpan.FromSeconds(30));
        var stopped = Assert.Single(logs.WithId(1003));
        Assert.EndsWith("kept (it stopped before its first attempt reached the upstream)", stopped.Message, StringComparison.Ordinal);
    }

    /// <summary>Holds one connect to the upstream broker U until it is cancelled; every other connect goes through.</summary>
    private sealed class HoldingTransport(ITransport inner) : ITransport
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _holdNext;

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        /// <summary>Completes once a connect is being held.</summary>
        public Task Held => _held.Task;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public void HoldNextUpstreamConnect() => Volatile.Write(ref _holdNext, 1);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            if (request.Uri.StartsWith(Testbed.Uri("U"), StringComparison.Ordinal) && Interlocked.Exchange(ref _holdNext, 0) == 1)
            {
                _held.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            }

            return await inner.ConnectAsync(request, cancellationToken);
        }
    }
}
