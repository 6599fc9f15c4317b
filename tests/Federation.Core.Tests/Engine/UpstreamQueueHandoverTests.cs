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

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(long? messageTtl) =>
        new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u =>
            {
                u.Exchange = "upstream";
                u.PrefetchCount = 1;
                u.MessageTtl = messageTtl;
            })
            .Policy("fed", "^fed\\.", upstream: "u");

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
