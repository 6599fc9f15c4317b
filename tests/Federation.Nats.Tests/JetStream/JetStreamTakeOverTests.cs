using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.JetStream.Models;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A queue declared as taking another's place (<see cref="QueueSpec.TakesOver"/>: the link under a downstream's new name
/// replaces the link under the old one) gets a durable consumer that starts right after the old consumer's acknowledgement
/// floor on the same stream, so that what the old one had not acknowledged, and what the stream captured since, is
/// delivered. Before, it started at the stream's end, and that was lost once the old consumer was deleted.
/// </summary>
public sealed class JetStreamTakeOverTests() : JetStreamSingleServerTests("js-takeover")
{
    private const int AckWaitMs = 60_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_queue_taking_another_over_starts_at_its_acknowledgement_floor_and_one_naming_a_missing_queue_at_the_end()
    {
        var transport = new NatsTransport();

        // The old queue's link forwarded and acknowledged 0..3 of 0..9, and stopped with 4..9 unacknowledged.
        await using (var old = await ConnectWithBoundQueueAsync(AckWaitMs, "old", transport: transport))
        {
            await JetStreamTestKit.PublishConfirmedAsync(Server, Exchange, 0, 10);
            var self = new TaskCompletionSource<IMessageConsumer>(TaskCreationOptions.RunContinuationsAsynchronously);
            var seen = new ConcurrentDictionary<int, bool>();
            var consumer = await old.ConsumeAsync("old", new ConsumerOptions(10), async (delivery, token) =>
            {
                var n = int.Parse(Encoding.ASCII.GetString(delivery.Body.Span), CultureInfo.InvariantCulture);
                seen[n] = true;
                if (n < 4)
                {
                    await (await self.Task).AckAsync(delivery.DeliveryTag, multiple: false, token);
                }
            }, CancellationToken.None);
            self.SetResult(consumer);
            await using (consumer)
            {
                ConsumerInfo? info = null;
                await JetStreamTestKit.EventuallyAsync(
                    async () =>
                    {
                        info = (await JetStreamTestKit.ConsumersAsync(Server, Stream)).SingleOrDefault();
                        return seen.Count == 10 && info is { AckFloor.StreamSeq: 4 };
                    },
                    () => $"0..9 delivered to the old queue, 0..3 acknowledged; seen {seen.Count}, ack floor {info?.AckFloor?.StreamSeq}",
                    Deadline);
            }
        }

        // Captured while no link reads the stream (between the old link's stop and the new consumer's creation).
        await JetStreamTestKit.PublishConfirmedAsync(Server, Exchange, 10, 5);

        await using var taking = await ConnectWithBoundQueueAsync(AckWaitMs, "new", takesOver: "old", transport: transport);
        await BindQueueAsync(taking, "fresh", takesOver: "missing");
        var consumers = (await JetStreamTestKit.ConsumersAsync(Server, Stream)).ToDictionary(c => c.Name, StringComparer.Ordinal);
        var created = consumers[JetStreamNames.ConsumerFor("new")].Config;
        Assert.Equal(ConsumerConfigDeliverPolicy.ByStartSequence, created.DeliverPolicy);
        Assert.Equal(5UL, created.OptStartSeq);
        Assert.Equal(ConsumerConfigDeliverPolicy.New, consumers[JetStreamNames.ConsumerFor("fresh")].Config.DeliverPolicy);

        // Asked on another connection of the transport, as the forwarding of the retired queue asks.
        await using (var other = await transport.ConnectAsync(new ConnectionRequest($"{Server.Url}?cluster-name=U&jetstream=true", "Federation link test"), CancellationToken.None))
        {
            Assert.True(await other.HasTakenOverAsync("new", "old", CancellationToken.None));
            Assert.False(await other.HasTakenOverAsync("fresh", "missing", CancellationToken.None));
            Assert.False(await other.HasTakenOverAsync("old", "new", CancellationToken.None));
        }

        var received = new ConcurrentDictionary<int, int>();
        var acking = new TaskCompletionSource<IMessageConsumer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var next = await taking.ConsumeAsync("new", new ConsumerOptions(100), async (delivery, token) =>
        {
            received.AddOrUpdate(int.Parse(Encoding.ASCII.GetString(delivery.Body.Span), CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
            await (await acking.Task).AckAsync(delivery.DeliveryTag, multiple: false, token);
        }, CancellationToken.None);
        acking.SetResult(next);
        await using (next)
        {
            await JetStreamTestKit.EventuallyAsync(
                () => Task.FromResult(received.Count == 11),
                () => $"4..14 at the queue that took the old one over; have {string.Join(",", received.Keys.Order())}",
                Deadline);
        }

        Assert.Equal(Enumerable.Range(4, 11), received.Keys.Order());
    }
}
