using System.Globalization;
using System.Text.RegularExpressions;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A reload that changes the downstream's identity (another cluster name, vhost or broker) gives every link another id and
/// upstream queue. The old queue used to be deleted as the old link stopped, before the engine had connected again and the
/// new link had bound its queue: what the upstream published in between reached no queue and was not counted (a black-box
/// AMQP run lost 50 messages and counted 10). Make before break: the old queue stays bound until the new one is; on the
/// same broker and vhost (only the name changed) the new link forwards what the old queue holds, so nothing published
/// after the reload began is lost; on another broker what the old queue held is discarded, but counted (event 1028).
/// </summary>
public sealed partial class DownstreamRenameUnderTrafficTests : IAsyncLifetime
{
    private const string OldQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly HeldDownstreamConnects _connects = new();

    public Task InitializeAsync()
    {
        _bed.WrapTransport = _connects.Wrap;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _connects.Release();
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(string downstream = "D", string? clusterName = null)
    {
        var options = new FederationOptions { ClusterName = clusterName, Downstream = { Uri = Testbed.Uri(downstream) } }
            .Upstream("u", "U", u =>
            {
                u.Exchange = "upstream";
                u.PrefetchCount = 10;
            })
            .Policy("fed", "^fed\\.", upstream: "u");
        return options;
    }

    [Fact]
    public async Task A_reload_that_renames_the_downstream_loses_nothing_published_after_it_began()
    {
        var (engine, downstream) = await StartAsync();
        await using var publishing = new ContinuousPublisher(await _bed.ConnectAsync("U"));
        await Testbed.Eventually(() => downstream.Bodies.Count >= 20, () => $"{downstream.Bodies.Count} forwarded before the reload");

        var reloadBegan = publishing.Published;
        await ReloadHoldingTheNewDownstreamAsync(engine, Configuration(clusterName: "D2"), publishing);
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running }] && _bed.Broker("U").QueueExists("/", "federation: upstream -> D2:fed.downstream"),
            () => "the link running under the new cluster name");

        // Traffic goes on past the switch, so that the old queue is forwarded while the new one also fills.
        var switched = publishing.Published;
        await Testbed.Eventually(() => publishing.Published >= switched + 200, () => $"{publishing.Published - switched} published after the switch");
        var last = await publishing.StopAsync();

        var expected = Enumerable.Range(reloadBegan, last - reloadBegan).Select(ContinuousPublisher.Body).ToList();
        await Testbed.Eventually(
            () => !expected.Except(downstream.Bodies).Any(),
            () => $"published after the reload began and lost: {expected.Except(downstream.Bodies).Count()} of {expected.Count} ({string.Join(", ", expected.Except(downstream.Bodies).Take(10))}...); {_bed.Broker("U").GetMessageCount("/", OldQueue)} left in the old queue");
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", OldQueue), () => "the old queue, forwarded, is deleted");
        await Testbed.Eventually(() => _logs.WithId(2033).Count == 1, () => "the forwarding logged once it returned (event 2033)");
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
    }

    [Fact]
    public async Task A_downstream_that_renames_itself_loses_nothing_published_around_the_rename()
    {
        // No reload: the broker reports another cluster name when the engine connects again (rabbitmqctl set_cluster_name,
        // event 2027). Until 6 Dec 2026 the old queue stayed for good, filling, and what the upstream routed to it from the
        // connection drop until the new link had bound its queue was never forwarded.
        var (engine, downstream) = await StartAsync();
        var before = Assert.Single(engine.GetLinks()).Id;
        await using var publishing = new ContinuousPublisher(await _bed.ConnectAsync("U"));
        await Testbed.Eventually(() => downstream.Bodies.Count >= 20, () => $"{downstream.Bodies.Count} forwarded before the rename");

        _connects.Hold();
        var renameBegan = publishing.Published;
        _bed.Broker("D").ClusterName = "D2";
        _bed.Broker("D").DropConnections(); // the test's probe too: a second one reads on from the same queue
        var held = publishing.Published;
        await Testbed.Eventually(() => publishing.Published >= held + 100 && _connects.Held > 0, () => $"{publishing.Published - held} published while the downstream is held");
        Assert.True(_bed.Broker("U").GetMessageCount("/", OldQueue) > 0, "the old queue buffers while the engine is away");
        _connects.Release();
        var probe = new QueueProbe(await _bed.ConnectAsync("D"), downstream.Queue);
        await probe.StartAsync();
        await using var probed = probe;
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Id != before && _bed.Broker("U").QueueExists("/", "federation: upstream -> D2:fed.downstream"),
            () => "the link running under the new cluster name");
        var switched = publishing.Published;
        await Testbed.Eventually(() => publishing.Published >= switched + 200, () => $"{publishing.Published - switched} published after the switch");
        var last = await publishing.StopAsync();

        var expected = Enumerable.Range(renameBegan, last - renameBegan).Select(ContinuousPublisher.Body).ToList();
        List<string> Missing() => [.. expected.Except(downstream.Bodies).Except(probe.Bodies)];
        await Testbed.Eventually(
            () => Missing().Count == 0,
            () => $"published around the rename and lost: {Missing().Count} of {expected.Count} ({string.Join(", ", Missing().Take(10))}...); {_bed.Broker("U").GetMessageCount("/", OldQueue)} left in the old queue");
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", OldQueue), () => "the old queue, forwarded, is deleted");
        await Testbed.Eventually(() => _logs.WithId(2033).Count == 1, () => "the forwarding logged once it returned (event 2033)");
        Assert.Single(_logs.WithId(2027));
        Assert.Single(_logs.WithId(2035));
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
    }

    [Fact]
    public async Task A_reload_to_another_downstream_broker_counts_everything_it_does_not_forward()
    {
        // On another broker the old queue's messages are not the new link's to forward: they are discarded, but counted
        // (event 1028), including what was published until the new link bound its queue. Before, those reached no queue.
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D2"), "fed.downstream");
        var elsewhere = await _bed.BindQueueAsync("D2", "fed.downstream", "key");
        var (engine, downstream) = await StartAsync();
        await using var publishing = new ContinuousPublisher(await _bed.ConnectAsync("U"));
        await Testbed.Eventually(() => downstream.Bodies.Count >= 20, () => $"{downstream.Bodies.Count} forwarded before the reload");

        var reloadBegan = publishing.Published;
        await ReloadHoldingTheNewDownstreamAsync(engine, Configuration(downstream: "D2"), publishing);
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running }] && _bed.Broker("U").QueueExists("/", "federation: upstream -> D2:fed.downstream"),
            () => "the link running on the new downstream");
        var switched = publishing.Published;
        await Testbed.Eventually(() => publishing.Published >= switched + 200, () => $"{publishing.Published - switched} published after the switch");
        var last = await publishing.StopAsync();
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", OldQueue) && _logs.WithId(1028).Count == 1, () => "the old queue deleted, what it held counted");

        var expected = Enumerable.Range(reloadBegan, last - reloadBegan).Select(ContinuousPublisher.Body).ToList();
        await Testbed.Eventually(() => elsewhere.Bodies.Contains(ContinuousPublisher.Body(last - 1)), () => "the last message forwarded to the new downstream");
        var missing = expected.Except(downstream.Bodies).Except(elsewhere.Bodies).Count();
        var counted = long.Parse(DiscardedCount().Match(Assert.Single(_logs.WithId(1028)).Message).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(missing <= counted, $"{missing} published after the reload began reached neither downstream, and only {counted} were counted as discarded");
        Assert.Contains("federates another downstream", Assert.Single(_logs.WithId(2020)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reload_back_to_the_old_name_before_the_renamed_downstream_connects_gives_the_link_its_queue_back()
    {
        var (engine, downstream) = await StartAsync();
        var before = Assert.Single(engine.GetLinks());
        var upstream = await _bed.ConnectAsync("U");

        // Renamed while the downstream cannot be reached: the old queue waits, bound, for the new link.
        _connects.Hold();
        await engine.UpdateAsync(Configuration(clusterName: "D2"), CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            await Testbed.PublishAsync(upstream, "upstream", "key", $"while-renamed-{i}");
        }

        Assert.Equal(5, _bed.Broker("U").GetMessageCount("/", OldQueue));

        // And back before it could: the link has its old id again, and its queue with what it buffered.
        await engine.UpdateAsync(Configuration(), CancellationToken.None);
        _connects.Release();
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Id == before.Id && Enumerable.Range(0, 5).All(i => downstream.Bodies.Contains($"while-renamed-{i}")),
            () => $"D has [{string.Join(",", downstream.Bodies)}]");
        Assert.True(_bed.Broker("U").QueueExists("/", OldQueue));
        Assert.Empty(_logs.WithId(2020));
        Assert.Empty(_logs.WithId(1028));
    }

    [Fact]
    public async Task An_engine_stopped_before_the_renamed_downstream_connects_deletes_the_old_queue_and_counts_what_it_held()
    {
        var (engine, _) = await StartAsync();
        var upstream = await _bed.ConnectAsync("U");
        _connects.Hold();
        await engine.UpdateAsync(Configuration(clusterName: "D2"), CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            await Testbed.PublishAsync(upstream, "upstream", "key", $"while-renamed-{i}");
        }

        Assert.True(_bed.Broker("U").QueueExists("/", OldQueue), "kept while the new link cannot start");

        // A clean stop, as for any link no other instance has: nothing will forward the queue any more.
        await engine.StopAsync(CancellationToken.None);
        Assert.False(_bed.Broker("U").QueueExists("/", OldQueue));
        Assert.Contains("discards 5 message(s)", Assert.Single(_logs.WithId(1028)).Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Reloads while the engine cannot connect to the downstream again (a slow reconnect, a new downstream down for a
    /// while): the upstream publishes a hundred messages more before the engine connects, and the new link can bind its queue.
    /// </summary>
    private async Task ReloadHoldingTheNewDownstreamAsync(FederationEngine engine, FederationOptions options, ContinuousPublisher publishing)
    {
        _connects.Hold();
        await engine.UpdateAsync(options, CancellationToken.None);
        var held = publishing.Published;
        await Testbed.Eventually(() => publishing.Published >= held + 100, () => $"{publishing.Published - held} published while the downstream is held");
        Assert.True(_connects.Held > 0, "the engine did not try to connect to the downstream meanwhile");
        _connects.Release();
    }

    private async Task<(FederationEngine Engine, QueueProbe Downstream)> StartAsync()
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            Testbed.AddUpstreamsAndPolicies(o, Configuration());
        }, loggerFactory: _logs.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var downstream = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        return (engine, downstream);
    }

    [GeneratedRegex(@"discards (\d+) message")]
    private static partial Regex DiscardedCount();

    /// <summary>While held, connections to any broker but the upstream U wait (the engine's downstream connects).</summary>
    private sealed class HeldDownstreamConnects
    {
        private TaskCompletionSource _open = NewOpen();
        private int _held;

        public int Held => Volatile.Read(ref _held);

        public void Hold()
        {
            _held = 0;
            Volatile.Write(ref _open, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        public void Release() => Volatile.Read(ref _open).TrySetResult();

        public ITransport Wrap(ITransport inner) => new Transport(inner, this);

        private static TaskCompletionSource NewOpen()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }

        private sealed class Transport(ITransport inner, HeldDownstreamConnects gate) : ITransport
        {
            public IReadOnlyCollection<string> Schemes => inner.Schemes;

            public TransportCapabilities Capabilities => inner.Capabilities;

            public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

            public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

            public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
            {
                var open = Volatile.Read(ref gate._open);
                if (!request.Uri.StartsWith(Testbed.Uri("U"), StringComparison.Ordinal) && !open.Task.IsCompleted)
                {
                    Interlocked.Increment(ref gate._held);
                    await open.Task.WaitAsync(cancellationToken);
                }

                return await inner.ConnectAsync(request, cancellationToken);
            }
        }
    }
}
