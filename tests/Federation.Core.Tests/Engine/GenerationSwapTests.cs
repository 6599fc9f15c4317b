using Federation.Core.Hops;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The A/B swap of a link's internal exchange when the previous session's swap was cut short (its process killed, or its
/// setup cancelled by a lost lease or a handover), so that both generations exist upstream and the one the next holder
/// picks to rebuild may be the one the queue still captures through.
/// </summary>
public sealed class GenerationSwapTests : IAsyncLifetime
{
    private const string QueueName = "federation: upstream -> D:fed.downstream";
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_swap_cut_short_loses_nothing_published_while_the_next_session_rebuilds_the_complete_generation()
    {
        // A link that has run both generations, now through A (complete: the queue and the upstream binding), kept upstream.
        var (first, queue) = await _bed.StartSimpleLinkAsync(u => u.ResourceCleanupMode = ResourceCleanupMode.Never);
        var id = first.GetLinks()[0].Id;
        Assert.True(await first.RestartLinkAsync(id, CancellationToken.None));
        await Testbed.Eventually(() => !_bed.Broker("U").ExchangeExists("/", InternalExchange('B')), () => "the second session on A");
        await Testbed.WaitForRunningLinksAsync(first, 1);
        await first.DisposeAsync();
        Assert.True(_bed.Broker("U").ExchangeExists("/", InternalExchange('A')), string.Join(", ", _bed.Broker("U").GetExchangeNames("/")));
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        // The next session's swap to B was cut short: B exists and the queue is bound to it, but no binding was replayed.
        var upstream = await _bed.ConnectAsync("U");
        await upstream.DeclareExchangeAsync(InternalExchangeSpec('B'), CancellationToken.None);
        await upstream.BindAsync(new BindingSpec(InternalExchange('B'), QueueName, BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);

        // Another process takes the link (no memory of it). While it declares its new generation, a message is published
        // upstream: the queue must still capture it.
        var published = false;
        _bed.WrapTransport = inner => new DeclareHookTransport(inner, async exchange =>
        {
            if (!published && exchange.Name.StartsWith(QueueName + " ", StringComparison.Ordinal))
            {
                published = true;
                await Testbed.PublishAsync(upstream, "upstream", "key", "DURING-THE-SWAP");
            }
        });
        var next = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u =>
        {
            u.Exchange = "upstream";
            u.ResourceCleanupMode = ResourceCleanupMode.Never;
        }).Policy("fed", "^fed\\.", upstream: "u"));
        await Testbed.WaitForRunningLinksAsync(next, 1);
        Assert.True(published);

        await queue.ExpectAsync("DURING-THE-SWAP");

        // The swap completed: one generation left, with the binding, and capture goes on.
        Assert.NotEqual(_bed.Broker("U").ExchangeExists("/", InternalExchange('A')), _bed.Broker("U").ExchangeExists("/", InternalExchange('B')));
        await Testbed.PublishAsync(upstream, "upstream", "key", "AFTER");
        await queue.ExpectAsync("DURING-THE-SWAP", "AFTER");
    }

    private static string InternalExchange(char generation) => UpstreamNaming.InternalExchangeName(QueueName, generation);

    private static ExchangeSpec InternalExchangeSpec(char generation) => new(
        InternalExchange(generation),
        ExchangeSpec.Types.Fanout,
        Durable: true,
        AutoDelete: true,
        Internal: true,
        new Dictionary<string, object?>(StringComparer.Ordinal) { [HopHeaders.InternalPurposeArgument] = HopHeaders.InternalPurposeValue });

    /// <summary>Runs a hook before every exchange declaration, on every connection.</summary>
    private sealed class DeclareHookTransport(ITransport inner, Func<ExchangeSpec, Task> beforeDeclare) : ITransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new HookedConnection(await inner.ConnectAsync(request, cancellationToken), beforeDeclare);

        private sealed class HookedConnection(IBrokerConnection inner, Func<ExchangeSpec, Task> beforeDeclare) : DelegatingBrokerConnection(inner)
        {
            public override async ValueTask DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken)
            {
                await beforeDeclare(exchange);
                await Inner.DeclareExchangeAsync(exchange, cancellationToken);
            }
        }
    }
}
