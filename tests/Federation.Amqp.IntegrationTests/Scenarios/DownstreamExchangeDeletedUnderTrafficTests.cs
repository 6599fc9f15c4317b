using System.Text.RegularExpressions;
using Federation.Core.Links;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// A downstream exchange deleted while messages flow into its upstream exchange stops its link for good, and the link's
/// upstream queue, internal exchanges and sentinel go with it. Under traffic the link's session fails on the downstream's
/// 404 before the engine sees the deletion in the topology events, so the clean stop often finds no session to clean up
/// with: before, the queue then stayed on the upstream, still bound, and went on filling without bound (a black-box run
/// against RabbitMQ 3.10.8 at 500 msg/s found it in 3 trials of 5). This test then found the stop also coming in the
/// middle of the link's immediate reconnect: one that cut the connect short kept the queue, and one that cut the set-up
/// short before the internal exchange's generation was chosen left the sentinel (ExchangeDeletedBetweenRunsTests has both
/// in memory). The exchange is declared and deleted several times under the same name, so that the races are hit and a
/// link declared again never takes a stale queue back.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class DownstreamExchangeDeletedUnderTrafficTests(FederationNodesFixture nodes, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Rounds = 8;

    /// <summary>How many forwarded messages show the link carries the traffic before the exchange is deleted.</summary>
    private const int ForwardedBeforeDeletion = 100;

    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task Deleting_the_downstream_exchange_while_messages_flow_deletes_the_upstream_queue_and_its_exchanges()
    {
        var exchange = ScenarioContext.UniqueName("fed.deletedflow");
        var upstreamPrefix = $"federation: {exchange} -> {nodes.Downstream.ClusterName}";

        // The upstream exchange is the application's: it outlives every link, and messages go on flowing into it throughout.
        await context.DeclareExchangeAsync(nodes.Upstream, exchange);
        var publishing = ConfirmedPublishing.Start(await context.ChannelAsync(nodes.Upstream, new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)), exchange);

        var logs = new CapturedLogs();
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.Downstream, exchange, ("a", nodes.Upstream, null)), loggerFactory: logs);
        var admin = await context.ChannelAsync(nodes.Downstream);
        context.DeleteLater(nodes.Downstream, exchange);
        try
        {
            for (var round = 1; round <= Rounds; round++)
            {
                await admin.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
                var probe = await context.BindQueueAsync(nodes.Downstream, exchange, "key");
                var link = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
                await Poll.UntilAsync(() => Task.FromResult(probe.Count >= ForwardedBeforeDeletion ? probe : null), $"round {round}: the link should forward the traffic; {probe.Count} arrived, {publishing.Published} published");

                var deletedAt = logs.Now;
                await admin.ExchangeDeleteAsync(exchange);

                string Timeline() => $"round {round}, {publishing.Published} published:{Environment.NewLine}{logs.Timeline(deletedAt)}{Environment.NewLine}{string.Join(Environment.NewLine, logs.Entries.Where(e => e.At >= deletedAt && e.Exception is not null).Select(e => e.Exception!.ToString()))}";
                await Poll.UntilAsync(() => Task.FromResult(engine.GetLinks().Any(l => l.Exchange == exchange) ? null : engine), $"the link should be gone from the status; {Timeline()}");
                await Management.WaitAsync(() => UpstreamObjectsAsync(upstreamPrefix), names => names.Count == 0, $"the link's upstream queue and exchanges should be deleted; {Timeline()}");

                // Nothing declares them again: the stopped link's runs are over, and no other link has the exchange.
                await ExpectNoneForAsync(upstreamPrefix, QueueProbe.QuietPeriod, Timeline);
                Assert.Empty(await Management.FederationKeysAsync(nodes.Upstream, exchange));

                var stops = logs.Entries.Where(e => e.At >= deletedAt && e.EventId.Id == 1003 && e.Message.Contains(link.Id, StringComparison.Ordinal)).ToList();
                Assert.True(stops.Count == 1 && stops[0].Message.EndsWith("upstream objects deleted", StringComparison.Ordinal), $"one stop that deletes the upstream objects; {Timeline()}");
                Assert.False(logs.Entries.Any(e => e.At >= deletedAt && e.EventId.Id == 1007), $"no cleanup should fail; {Timeline()}");
                foreach (var discarded in logs.Entries.Where(e => e.At >= deletedAt && e.EventId.Id == 1028))
                {
                    Assert.Matches($@"^Link {Regex.Escape(link.Id)}: deleting upstream queue '{Regex.Escape(upstreamPrefix)}[^']*' discards [1-9]\d* message\(s\) it held \(its downstream exchange was deleted\)$", discarded.Message);
                }

                output.WriteLine(Timeline());
            }

            // Each round deleted a queue that messages were flowing into: some deletion found messages in it and counted them.
            Assert.Contains(logs.Entries, e => e.EventId.Id == 1028);
        }
        finally
        {
            await publishing.StopAsync();
        }
    }

    /// <summary>The queues and exchanges on the upstream whose names start with <paramref name="prefix"/>.</summary>
    private async Task<IReadOnlyList<string>> UpstreamObjectsAsync(string prefix) =>
        [.. (await Management.NamesAsync(nodes.Upstream, "queues")).Concat(await Management.NamesAsync(nodes.Upstream, "exchanges")).Where(n => n.StartsWith(prefix, StringComparison.Ordinal))];

    /// <summary>Checks, for the whole of <paramref name="period"/>, that no queue or exchange of the link is on the upstream.</summary>
    private async Task ExpectNoneForAsync(string prefix, TimeSpan period, Func<string> timeline)
    {
        var until = DateTime.UtcNow + period;
        while (DateTime.UtcNow < until)
        {
            var found = await UpstreamObjectsAsync(prefix);
            Assert.True(found.Count == 0, $"the link's upstream objects came back: [{string.Join(", ", found)}]; {timeline()}");
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>
    /// Publishes m0, m1, ... with confirms at a steady few hundred messages a second until stopped, as an application that
    /// goes on publishing upstream whatever happens downstream.
    /// </summary>
    private sealed class ConfirmedPublishing
    {
        private const int PerSecond = 500;

        private readonly CancellationTokenSource _stop = new();
        private int _published;

        private ConfirmedPublishing()
        {
        }

        public int Published => Volatile.Read(ref _published);

        private Task Done { get; set; } = Task.CompletedTask;

        public static ConfirmedPublishing Start(IChannel channel, string exchange)
        {
            var publishing = new ConfirmedPublishing();
            publishing.Done = Task.Run(async () =>
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                for (var i = 0; !publishing._stop.IsCancellationRequested; i++)
                {
                    // Confirmed: each is in every queue the exchange routes it to before the next goes.
                    await ScenarioContext.PublishAsync(channel, exchange, "key", $"m{i}");
                    Volatile.Write(ref publishing._published, i + 1);
                    while (i + 1 > clock.Elapsed.TotalSeconds * PerSecond && !publishing._stop.IsCancellationRequested)
                    {
                        await Task.Delay(1); // pacing is the behaviour here: a steady rate, not a wait for a condition
                    }
                }
            });
            return publishing;
        }

        /// <summary>Stops publishing; rethrows what failed it (a publish the upstream did not confirm).</summary>
        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Done;
            _stop.Dispose();
        }
    }
}
