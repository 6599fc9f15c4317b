using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A reload that renames the downstream (another <c>cluster-name</c>, the same server) under a steady publisher: the link
/// under the new name has another id, queue and durable consumer. That consumer started at the stream's end, and the old
/// one was deleted once it existed: what the old link had not acknowledged, and what was published between its stop and
/// the new consumer's creation, was lost (a black-box run at 500 msg/s lost 15 of 10,000). Now the new consumer starts at
/// the old one's acknowledgement floor: some messages may arrive twice, none is lost.
/// </summary>
public sealed class JetStreamDownstreamRenameTests(ITestOutputHelper output) : JetStreamServerPairTests("js-rename-up", "js-rename-down")
{
    private const string Exchange = "orders";
    private static readonly string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_rename_of_the_downstream_under_a_steady_publisher_loses_no_message()
    {
        // Every publish reaches this core subscriber, duplicates included: the downstream stream would drop a duplicate
        // whose message id it has seen (its duplicate window), and hide it from the count.
        var received = new ConcurrentDictionary<int, int>();
        await using var reader = new NatsConnection(new NatsOpts { Url = Downstream.Url, Name = "test-downstream-reader" });
        await reader.ConnectAsync();
        using var stopReading = new CancellationTokenSource();
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            await using var subscription = await reader.SubscribeCoreAsync<byte[]>(Exchange + ".>", cancellationToken: stopReading.Token);
            subscribed.SetResult();
            try
            {
                await foreach (var message in subscription.Msgs.ReadAllAsync(stopReading.Token))
                {
                    received.AddOrUpdate(int.Parse(Encoding.ASCII.GetString(message.Data ?? []), CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
                }
            }
            catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
            {
            }
        });
        await subscribed.Task;

        var engine = new FederationEngine(Options("DOWN"), [new NatsTransport()], new TestOutputLoggerFactory(output));
        Engines.Add(engine);
        _ = engine.StartAsync(CancellationToken.None);
        var before = await WaitForOneConsumerAsync(engine, name => true);

        // About 500 a second, as in the black-box run.
        await using var producer = new SteadyJetStreamPublisher(Upstream.Url, n => $"{Exchange}.{(n % 10).ToString(CultureInfo.InvariantCulture)}");

        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(received.Count >= 1000),
            () => $"1,000 messages downstream before the rename, have {received.Count}; links: {Describe(engine)}",
            Deadline);
        await engine.UpdateAsync(Options("DOWN2"), CancellationToken.None);

        // The old consumer goes once the link under the new name has its own.
        var after = await WaitForOneConsumerAsync(engine, name => name != before.Name);
        var atRename = producer.Published;
        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(producer.Published >= atRename + 1000),
            () => $"1,000 more messages published after the rename, have {producer.Published - atRename}",
            Deadline);
        var total = await producer.StopAsync();
        try
        {
            await JetStreamTestKit.EventuallyAsync(
                () => Task.FromResult(Enumerable.Range(0, total).All(received.ContainsKey)),
                () => $"all {total} messages downstream; missing {Enumerable.Range(0, total).Count(i => !received.ContainsKey(i))}: {string.Join(",", Enumerable.Range(0, total).Where(i => !received.ContainsKey(i)).Take(50))}; links: {Describe(engine)}",
                Deadline);
        }
        finally
        {
            await stopReading.CancelAsync();
            await reading;
            output.WriteLine($"{total} published, {received.Count} distinct received, {received.Count(r => r.Value > 1)} arrived more than once; the new consumer '{after.Name}' started {after.Config.DeliverPolicy} at {after.Config.OptStartSeq}");
        }

        Assert.Equal(Enumerable.Range(0, total), received.Keys.Order());
        Assert.Equal(ConsumerConfigDeliverPolicy.ByStartSequence, after.Config.DeliverPolicy);
        Assert.Equal(LinkState.Running, Assert.Single(engine.GetLinks()).State);
    }

    private FederationOptions Options(string clusterName)
    {
        var options = new FederationOptions
        {
            Downstream =
            {
                Uri = $"{Downstream.Url}?cluster-name={clusterName}&monitor-port={Port(Downstream.MonitorPort)}&monitor-interval-ms=50&namespaces={Exchange}&jetstream=true",
            },
        };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{Upstream.Url}?cluster-name=UP&jetstream=true&ack-wait-ms=5000" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = $"^{Exchange}$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        return options;
    }

    /// <summary>Waits until the stream has exactly one durable consumer, one whose name <paramref name="matches"/>, and the link runs.</summary>
    private async Task<ConsumerInfo> WaitForOneConsumerAsync(FederationEngine engine, Func<string, bool> matches)
    {
        var consumers = new List<ConsumerInfo>();
        await JetStreamTestKit.EventuallyAsync(
            async () =>
            {
                consumers = await JetStreamTestKit.ConsumersAsync(Upstream, Stream);
                return consumers is [var only] && matches(only.Name) && engine.GetLinks() is [{ State: LinkState.Running }];
            },
            () => $"one durable consumer upstream and the link running; consumers: {string.Join(", ", consumers.Select(c => c.Name))}; links: {Describe(engine)}",
            Deadline);
        return consumers[0];
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Id} {l.Uri} {l.State} {l.Error}"));

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
