using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The upstream refuses to declare a link's queue with other arguments than it has (AMQP 406, inequivalent arg), so a
/// reload that changes <c>message-ttl</c>, <c>expires</c> or <c>queue-type</c> cannot keep the queue. It used to delete it,
/// discarding what it held (events 2020 and 1028), and what the upstream routed until the new run had bound the new queue
/// reached no queue at all (a black-box run at 500 msg/s lost 90 and 114 messages per change, 10 of them counted). Now the
/// new run hands the queue over: a handover queue receives in its place while the link forwards what it holds, deletes it,
/// declares it anew and forwards the handover queue. Nothing is lost; some messages may arrive twice.
/// </summary>
public sealed class UpstreamQueueHandoverTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";
    private const string HandoverQueue = UpstreamQueue + " (handover)";
    private const int HandedOver = 2043;
    private const int HandoverStarted = 1035;
    private const int HandoverFinished = 1036;
    private const int HandoverStranded = 2044;
    private const int Discarded = 1028;

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(long? messageTtl, bool federated = true)
    {
        var options = new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u =>
            {
                u.Exchange = "upstream";
                u.PrefetchCount = 1;
                u.MessageTtl = messageTtl;
                u.ReconnectDelaySeconds = 0.1; // a failed run is retried at once, then after this
            });
        return federated ? options.Policy("fed", "^fed\\.", upstream: "u") : options;
    }

    [Fact]
    public async Task A_reload_that_changes_the_message_ttl_while_messages_flow_loses_none()
    {
        var (engine, downstream) = await StartAsync(messageTtl: null);
        var publisher = await _bed.ConnectAsync("U");
        using var stop = new CancellationTokenSource();
        var published = 0;
        var publishing = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Testbed.PublishAsync(publisher, "upstream", "key", $"m{published}");
                if (Interlocked.Increment(ref published) % 10 == 0)
                {
                    await Task.Delay(10); // pacing is the behaviour here: a steady rate (at most 1,000 a second), not a wait for a condition
                }
            }
        });

        await Testbed.Eventually(() => Volatile.Read(ref published) >= 200, () => $"{published} published");
        var before = Assert.Single(engine.GetLinks());
        await engine.UpdateAsync(Configuration(messageTtl: 60_000), CancellationToken.None);
        await Testbed.Eventually(() => engine.GetLinks() is [{ State: LinkState.Running } after] && after.Since != before.Since, () => "the link should run again");
        var atHandover = Volatile.Read(ref published);
        await Testbed.Eventually(() => Volatile.Read(ref published) >= atHandover + 200, () => $"{published} published");
        await stop.CancelAsync();
        await publishing;

        var total = Volatile.Read(ref published);
        await Testbed.Eventually(
            () => downstream.Bodies.Distinct().Count() >= total,
            () => $"all {total} should arrive; {downstream.Bodies.Distinct().Count()} did, missing {string.Join(",", Enumerable.Range(0, total).Select(i => $"m{i}").Except(downstream.Bodies).Take(20))}");
        Assert.Empty(Enumerable.Range(0, total).Select(i => $"m{i}").Except(downstream.Bodies));
        Assert.Equal(60_000L, Convert.ToInt64(_bed.Broker("U").GetQueue("/", UpstreamQueue)!.Arguments!["x-message-ttl"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("x-message-ttl none -> 60000", Assert.Single(_logs.WithId(HandedOver)).Message, StringComparison.Ordinal);
        Assert.Single(_logs.WithId(HandoverStarted));
        await Testbed.Eventually(() => _logs.WithId(HandoverFinished).Count == 1, () => "the handover should finish"); // logged once the handover queue is deleted
        Assert.False(_bed.Broker("U").QueueExists("/", HandoverQueue), "the handover queue should be deleted once forwarded");
        Assert.DoesNotContain(_logs.Entries, e => e.EventId.Id is 2020 or 1028);
        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task A_queue_that_exists_with_other_arguments_at_the_start_is_handed_over_and_what_it_holds_forwarded()
    {
        // Left by a run with another configuration (the engine restarted with a new message-ttl while another instance kept
        // the queue, or a run cut short in the middle of a handover): the upstream refuses the link's declaration.
        var upstream = await _bed.ConnectAsync("U");
        await upstream.DeclareQueueAsync(new QueueSpec(UpstreamQueue, Arguments: new Dictionary<string, object?> { ["x-message-ttl"] = 1_000_000L }), CancellationToken.None);
        await SeedAsync(upstream, UpstreamQueue, "old");

        var (_, downstream) = await StartAsync(messageTtl: 60_000);

        await downstream.ExpectAsync("old0", "old1", "old2", "old3", "old4");
        Assert.Equal(60_000L, Convert.ToInt64(_bed.Broker("U").GetQueue("/", UpstreamQueue)!.Arguments!["x-message-ttl"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("holding 5 message(s)", Assert.Single(_logs.WithId(HandoverStarted)).Message, StringComparison.Ordinal);
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", HandoverQueue), () => "the handover queue should be deleted once forwarded");
    }

    [Fact]
    public async Task A_handover_queue_that_a_crash_left_is_forwarded_and_deleted_when_the_link_runs_again()
    {
        // A run that moved the queue aside, deleted it and died before it forwarded the handover queue.
        var upstream = await _bed.ConnectAsync("U");
        await upstream.DeclareQueueAsync(new QueueSpec(HandoverQueue, Arguments: new Dictionary<string, object?> { ["x-expires"] = 86_400_000L }), CancellationToken.None);
        await SeedAsync(upstream, HandoverQueue, "aside");

        var (_, downstream) = await StartAsync(messageTtl: null);

        await downstream.ExpectAsync("aside0", "aside1", "aside2", "aside3", "aside4");
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", HandoverQueue), () => "the handover queue should be deleted once forwarded");
        Assert.Contains("5 message(s) when it was unbound", Assert.Single(_logs.WithId(HandoverFinished)).Message, StringComparison.Ordinal);
        Assert.Empty(_logs.WithId(HandoverStarted));
    }

    [Fact]
    public async Task A_queue_the_upstream_refuses_to_declare_anew_after_the_handover_is_warned_of_once_and_its_handover_queue_forwarded_later()
    {
        // The hand-over started (the old arguments were refused, the queue forwarded and deleted), then the upstream refuses
        // the new declaration for another reason (an argument it rejects): the handover queue stays bound and fills.
        var refusing = UseRefusingTransport();
        var (engine, downstream) = await StartAsync(messageTtl: null);
        refusing.Mode = RefusalMode.Refuse;
        await engine.UpdateAsync(Configuration(messageTtl: 60_000), CancellationToken.None);
        await Testbed.Eventually(() => _logs.WithId(HandoverStranded).Count == 1, () => "the stranded handover queue should be warned of");
        Assert.Contains($"'{HandoverQueue}'", _logs.WithId(HandoverStranded)[0].Message, StringComparison.Ordinal);

        var upstream = await _bed.ConnectAsync("U");
        for (var i = 0; i < 5; i++)
        {
            await Testbed.PublishAsync(upstream, "upstream", "key", $"during{i}");
        }

        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", HandoverQueue) == 5, () => "the handover queue should receive what the upstream routes to the link");
        var refusals = refusing.Refusals;
        var renewals = refusing.HandoverDeclarations;
        await Testbed.Eventually(() => refusing.Refusals >= refusals + 3, () => "the link should go on retrying");
        Assert.Single(_logs.WithId(HandoverStranded)); // once per episode, not per attempt

        // Each failed attempt declares the handover queue again, which restarts a broker's x-expires clock: it must not
        // expire, with what it holds, under a link that keeps retrying.
        await Testbed.Eventually(() => refusing.HandoverDeclarations >= renewals + 2, () => $"each failed attempt should declare the handover queue again (declared {refusing.HandoverDeclarations - renewals} time(s) over {refusing.Refusals - refusals} attempts)");

        refusing.Mode = RefusalMode.None;
        await downstream.ExpectAsync("during0", "during1", "during2", "during3", "during4");
        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", HandoverQueue), () => "the next run should forward and delete the handover queue");
        Assert.Equal(60_000L, Convert.ToInt64(_bed.Broker("U").GetQueue("/", UpstreamQueue)!.Arguments!["x-message-ttl"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(_logs.Entries, e => e.EventId.Id == Discarded);
    }

    [Theory]
    [InlineData(RefusalMode.Refuse)] // the link fails between runs: removed without a session
    [InlineData(RefusalMode.Hold)] // the link is in the middle of its handover: removed with its session
    public async Task A_link_removed_in_the_middle_of_a_handover_deletes_the_handover_queue_counting_what_it_held(RefusalMode mode)
    {
        var refusing = UseRefusingTransport();
        var (engine, _) = await StartAsync(messageTtl: null);
        refusing.Mode = mode;
        await engine.UpdateAsync(Configuration(messageTtl: 60_000), CancellationToken.None);
        await Testbed.Eventually(() => refusing.Refusals > 0, () => "the declaration anew should be refused or held");
        var upstream = await _bed.ConnectAsync("U");
        for (var i = 0; i < 3; i++)
        {
            await Testbed.PublishAsync(upstream, "upstream", "key", $"during{i}");
        }

        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", HandoverQueue) == 3, () => "the handover queue should receive what the upstream routes to the link");

        await engine.UpdateAsync(Configuration(messageTtl: 60_000, federated: false), CancellationToken.None);

        await Testbed.Eventually(() => !_bed.Broker("U").QueueExists("/", HandoverQueue), () => "the removed link's handover queue should be deleted");
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue));
        var discarded = Assert.Single(_logs.WithId(Discarded), e => e.Message.Contains(HandoverQueue, StringComparison.Ordinal));
        Assert.Contains("discards 3 message(s)", discarded.Message, StringComparison.Ordinal);
    }

    /// <summary>How <see cref="RefusingTransport"/> answers the declaration of the link's queue while its handover queue exists.</summary>
    public enum RefusalMode
    {
        /// <summary>Passes it on.</summary>
        None,

        /// <summary>Refuses it, as an upstream refuses an argument it rejects (AMQP 406).</summary>
        Refuse,

        /// <summary>Holds it until the run is cancelled.</summary>
        Hold,
    }

    private RefusingTransport UseRefusingTransport()
    {
        var refusing = new RefusingTransport(_bed.Broker("U"));
        _bed.WrapTransport = inner => refusing.Wrap(inner);
        return refusing;
    }

    /// <summary>Refuses or holds the declaration of the link's queue while its handover queue exists (see <see cref="RefusalMode"/>).</summary>
    private sealed class RefusingTransport(Federation.Core.InMemory.InMemoryBroker upstream)
    {
        private ITransport? _inner;
        private int _refusals;
        private int _handoverDeclarations;

        public RefusalMode Mode { get; set; }

        public int Refusals => Volatile.Read(ref _refusals);

        /// <summary>How many times the handover queue was declared through this transport.</summary>
        public int HandoverDeclarations => Volatile.Read(ref _handoverDeclarations);

        public ITransport Wrap(ITransport inner)
        {
            _inner = inner;
            return new Transport(this);
        }

        private sealed class Transport(RefusingTransport owner) : ITransport
        {
            public IReadOnlyCollection<string> Schemes => owner._inner!.Schemes;

            public TransportCapabilities Capabilities => owner._inner!.Capabilities;

            public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
                new Connection(await owner._inner!.ConnectAsync(request, cancellationToken), owner);
        }

        // Declares the interface again, so that its leases and ledgers pass the inner connection's on.
        private sealed class Connection(IBrokerConnection inner, RefusingTransport owner) : DelegatingBrokerConnection(inner), IBrokerConnection
        {
            public override async ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken)
            {
                if (queue.Name == HandoverQueue)
                {
                    Interlocked.Increment(ref owner._handoverDeclarations);
                }

                if (queue.Name == UpstreamQueue && owner.Mode != RefusalMode.None && owner.UpstreamHasHandover())
                {
                    Interlocked.Increment(ref owner._refusals);
                    if (owner.Mode == RefusalMode.Refuse)
                    {
                        throw new PreconditionFailedException("PRECONDITION_FAILED - invalid arg 'x-test' (a fault the test injects)");
                    }

                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }

                await Inner.DeclareQueueAsync(queue, cancellationToken);
            }

            public ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) => Inner.OpenLedgerAsync(options, cancellationToken);
        }

        private bool UpstreamHasHandover() => upstream.QueueExists("/", HandoverQueue);
    }

    /// <summary>Puts five messages with routing key <c>key</c> (the one the downstream binds) into <paramref name="queue"/>.</summary>
    private static async Task SeedAsync(IBrokerConnection upstream, string queue, string prefix)
    {
        await Testbed.DeclareExchangeAsync(upstream, "seed", ExchangeSpec.Types.Direct);
        await upstream.BindAsync(new BindingSpec("seed", queue, BindingDestinationKind.Queue, "key"), noWait: false, CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            await Testbed.PublishAsync(upstream, "seed", "key", $"{prefix}{i}");
        }

        await upstream.UnbindAsync(new BindingSpec("seed", queue, BindingDestinationKind.Queue, "key"), noWait: false, CancellationToken.None);
    }

    private async Task<(FederationEngine Engine, QueueProbe Downstream)> StartAsync(long? messageTtl)
    {
        // The downstream queue first: a link that hands a queue over forwards as soon as it starts.
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var downstream = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        var engine = await _bed.StartEngineAsync("D", o => Testbed.AddUpstreamsAndPolicies(o, Configuration(messageTtl)), loggerFactory: _logs.AsFactory());
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        return (engine, downstream);
    }
}
