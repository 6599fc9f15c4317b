using System.Collections.Concurrent;
using System.Globalization;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// Two instances that start the same link at the same moment with different <c>prefetch-count</c>s: the durable consumer
/// ends with the larger one as its <c>max_ack_pending</c>. nats-server 2.9 has no conditional consumer update (and its
/// create updates an existing consumer), so the last of two writes made from the same read won: in about one start in five
/// the consumer kept the smaller limit for good, and the instance with the larger prefetch was capped without a word.
/// </summary>
public sealed class JetStreamMaxAckPendingRaceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Larger = 3000;
    private const int Rounds = 24;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly ConcurrentQueue<(EventId Id, string Message)> _logs = new();
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await NatsServerProcess.StartJetStreamAsync("js-ackpending-race");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private enum Start
    {
        /// <summary>The consumer exists (the bindings came first): both raise it at once.</summary>
        BothRaiseAnExistingConsumer,

        /// <summary>Both consume before the bindings, which then create the consumer at once, each with its own limit.</summary>
        BothCreateTheConsumer,

        /// <summary>As above, but the second wants no more than the server's default, and creates the consumer without a limit.</summary>
        BothCreateTheConsumerOneWithASmallPrefetch,
    }

    [Fact]
    public async Task Two_instances_that_start_a_link_at_the_same_moment_leave_the_consumer_with_the_larger_prefetch()
    {
        await using var first = await ConnectAsync();
        await using var second = await ConnectAsync();
        for (var round = 0; round < Rounds; round++)
        {
            var start = (Start)(round % 3);
            var smaller = start == Start.BothCreateTheConsumerOneWithASmallPrefetch ? 500 : 2000;
            var queue = "q" + round.ToString(CultureInfo.InvariantCulture);
            await first.DeclareQueueAsync(new QueueSpec(queue), CancellationToken.None);
            await second.DeclareQueueAsync(new QueueSpec(queue), CancellationToken.None);
            if (start == Start.BothRaiseAnExistingConsumer)
            {
                await BindAsync(first, queue);
                await BindAsync(second, queue);
            }

            // Each from its own thread, as two processes would.
            var consumers = await Task.WhenAll(
                Task.Run(() => first.ConsumeAsync(queue, new ConsumerOptions(Larger), (_, _) => ValueTask.CompletedTask, CancellationToken.None).AsTask()),
                Task.Run(() => second.ConsumeAsync(queue, new ConsumerOptions(smaller), (_, _) => ValueTask.CompletedTask, CancellationToken.None).AsTask()));
            if (start != Start.BothRaiseAnExistingConsumer)
            {
                await Task.WhenAll(Task.Run(() => BindAsync(first, queue)), Task.Run(() => BindAsync(second, queue)));
            }

            long? seen = null;
            await JetStreamTestKit.EventuallyAsync(
                async () => (seen = (await ConsumerOfAsync(queue))?.Config.MaxAckPending) == Larger,
                () => $"max_ack_pending {Larger} in round {round} ({start}, the other instance {smaller}); it is {seen}",
                Deadline);
            foreach (var consumer in consumers)
            {
                await consumer.DisposeAsync();
            }
        }

        Assert.DoesNotContain(_logs, l => l.Id.Id == 6402);
    }

    [Fact]
    public async Task A_limit_lowered_under_a_running_link_is_raised_again()
    {
        // What the other instance's late write does when it lands after this instance last looked: the same as a hand edit.
        await using var connection = await ConnectAsync();
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await BindAsync(connection, "q");
        var consumer = await connection.ConsumeAsync("q", new ConsumerOptions(Larger), (_, _) => ValueTask.CompletedTask, CancellationToken.None);
        await using var _ = consumer;
        var info = await ConsumerOfAsync("q");
        Assert.Equal(Larger, info?.Config.MaxAckPending);

        await using (var nats = new NatsConnection(new NatsOpts { Url = _server.Url, Name = "test-admin" }))
        {
            await new NatsJSContext(nats).UpdateConsumerAsync("federation-orders", info!.Config with { MaxAckPending = 2000 });
        }

        long? seen = 2000;
        await JetStreamTestKit.EventuallyAsync(
            async () => (seen = (await ConsumerOfAsync("q"))?.Config.MaxAckPending) == Larger,
            () => $"max_ack_pending raised to {Larger} again; it is {seen}",
            Deadline);
        Assert.DoesNotContain(_logs, l => l.Id.Id == 6402);
    }

    private async Task<ConsumerInfo?> ConsumerOfAsync(string queue) =>
        (await JetStreamTestKit.ConsumersAsync(_server, "federation-orders")).SingleOrDefault(c => c.Name == JetStreamNames.ConsumerFor(queue));

    private async Task<IBrokerConnection> ConnectAsync()
    {
        var logs = new TestOutputLoggerFactory(output, LogLevel.Warning, (id, message) => _logs.Enqueue((id, message)));
        return await new NatsTransport(null, logs).ConnectAsync(
            new ConnectionRequest($"{_server.Url}?cluster-name=U&jetstream=true&ack-wait-ms=5000", "Federation link test"), CancellationToken.None);
    }

    private static async Task BindAsync(IBrokerConnection connection, string queue)
    {
        await connection.DeclareExchangeAsync(new ExchangeSpec("orders", ExchangeSpec.Types.Topic), CancellationToken.None);
        await connection.DeclareExchangeAsync(new ExchangeSpec(queue + " A", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None);
        await connection.BindAsync(new BindingSpec(queue + " A", queue, BindingDestinationKind.Queue, ""), noWait: false, CancellationToken.None);
        await connection.BindAsync(new BindingSpec("orders", queue + " A", BindingDestinationKind.Exchange, "#"), noWait: false, CancellationToken.None);
    }
}
