using System.Collections.Concurrent;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A reload renames the downstream (same broker and vhost) on an upstream that cannot count a queue's messages (NATS), so
/// the new link cannot forward the old link's queue until it is empty. A transport whose queues are cursors over a log
/// (JetStream) can start the new link's queue where the old one stopped instead: the new link declares its queue naming
/// the old one (<see cref="QueueSpec.TakesOver"/>) before it binds it, and once the transport says it took the old queue
/// over, the old queue is deleted without counting anything as discarded (event 2033, not 2020 and 1028). A transport that
/// did not take it over has it deleted as before, discarding what it held.
/// </summary>
public sealed class RetiredQueueTakenOverTests : IAsyncLifetime
{
    private const string OldQueue = "federation: upstream -> D:fed.downstream";
    private const string NewQueue = "federation: upstream -> D2:fed.downstream";

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly ConcurrentQueue<QueueSpec> _declared = new();
    private volatile bool _takesOver;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => new TakingOverTransport(inner, this);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(string? clusterName = null) =>
        new FederationOptions { ClusterName = clusterName, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed\\.", upstream: "u");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_new_link_declares_its_queue_as_taking_the_old_one_over_and_a_queue_taken_over_is_deleted_discarding_nothing(bool takesOver)
    {
        _takesOver = takesOver;
        var engine = await _bed.StartEngineAsync("D", o => Testbed.AddUpstreamsAndPolicies(o, Configuration()), loggerFactory: _logs.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);
        Assert.All(_declared.Where(q => q.Name == OldQueue), q => Assert.Null(q.TakesOver));

        await engine.UpdateAsync(Configuration(clusterName: "D2"), CancellationToken.None);

        await Testbed.Eventually(
            () => !_bed.Broker("U").QueueExists("/", OldQueue) && _bed.Broker("U").QueueExists("/", NewQueue),
            () => $"the old queue deleted once the new one exists; old: {_bed.Broker("U").QueueExists("/", OldQueue)}, new: {_bed.Broker("U").QueueExists("/", NewQueue)}",
            TimeSpan.FromSeconds(30));

        // The first declaration already names it: a JetStream consumer is created once, at the bind that follows.
        Assert.Equal(OldQueue, _declared.First(q => q.Name == NewQueue).TakesOver);
        if (takesOver)
        {
            await Testbed.Eventually(() => _logs.WithId(2033).Count > 0, () => "the take-over logged once the deletion returned (event 2033)", TimeSpan.FromSeconds(30));
            Assert.Empty(_logs.WithId(1028));
            Assert.Empty(_logs.WithId(2020));
            Assert.Contains("took it over", Assert.Single(_logs.WithId(2033)).Message, StringComparison.Ordinal);
        }
        else
        {
            await Testbed.Eventually(() => _logs.WithId(1028).Count > 0, () => "the discarded messages counted (event 1028)", TimeSpan.FromSeconds(30));
            Assert.Empty(_logs.WithId(2033));
        }
    }

    [Fact]
    public void Which_queue_a_declaration_takes_over_is_not_a_property_of_the_queue()
    {
        var spec = new QueueSpec("q");
        Assert.Equal(spec, spec with { TakesOver = "old" });
        Assert.Equal(spec.GetHashCode(), (spec with { TakesOver = "old" }).GetHashCode());
    }

    /// <summary>Upstream connections that cannot count a queue's messages (as on NATS), record declarations, and say a queue took another over when the test wants and the declaration named it.</summary>
    private sealed class TakingOverTransport(ITransport inner, RetiredQueueTakenOverTests test) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public TransportCapabilities Capabilities => inner.Capabilities;

        public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
        {
            var connection = await inner.ConnectAsync(request, cancellationToken);
            return request.Uri.StartsWith(Testbed.Uri("U"), StringComparison.Ordinal) ? new Connection(connection, test) : connection;
        }

        private sealed class Connection(IBrokerConnection inner, RetiredQueueTakenOverTests test) : DelegatingBrokerConnection(inner)
        {
            public override ValueTask DeclareQueueAsync(QueueSpec queue, CancellationToken cancellationToken)
            {
                test._declared.Enqueue(queue);
                return Inner.DeclareQueueAsync(queue, cancellationToken);
            }

            public override ValueTask<long?> CountQueueMessagesAsync(string name, CancellationToken cancellationToken) => ValueTask.FromResult<long?>(null);

            public override ValueTask<bool> HasTakenOverAsync(string queue, string retired, CancellationToken cancellationToken) =>
                ValueTask.FromResult(test._takesOver && test._declared.Any(q => q.Name == queue && q.TakesOver == retired));
        }
    }
}
