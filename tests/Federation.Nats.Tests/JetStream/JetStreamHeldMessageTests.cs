using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Federation.Core.Transport;
using Federation.Nats.JetStream;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A durable link stopped (a reload, the restart endpoint) while its window is full holds the next message, taken from the
/// client, waiting for room: it is neither handed on nor among the unacknowledged deliveries, and was not nak'ed with them.
/// The server gave it back only after the ack wait, to the next consumer, behind newer messages.
/// </summary>
public sealed class JetStreamHeldMessageTests() : JetStreamSingleServerTests("js-held")
{
    /// <summary>Far longer than <see cref="Prompt"/>: a message that waited for it cannot pass for a prompt one.</summary>
    private const int AckWaitMs = 60_000;

    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_message_held_for_room_in_the_window_goes_back_at_once_when_the_consumer_stops()
    {
        var connection = await ConnectWithBoundQueueAsync(AckWaitMs);
        await using var _ = connection;

        // The server lets more be pending than the window (another instance's larger prefetch raised it): with a window of
        // one, the second message reaches the consumer while the first is not acknowledged, and waits there for room.
        await using (var nats = new NatsConnection(new NatsOpts { Url = Server.Url, Name = "test-other-instance" }))
        {
            var js = new NatsJSContext(nats);
            var read = await js.GetConsumerAsync(Stream, JetStreamNames.ConsumerFor("q"));
            await js.UpdateConsumerAsync(Stream, read.Info.Config with { MaxAckPending = 10 });
            for (var i = 0; i < 2; i++)
            {
                (await js.PublishAsync("orders.x", Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture)))).EnsureSuccess();
            }
        }

        var handed = new ConcurrentQueue<string>();
        var first = await connection.ConsumeAsync("q", new ConsumerOptions(1), (delivery, _) =>
        {
            handed.Enqueue(Encoding.ASCII.GetString(delivery.Body.Span));
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        await JetStreamTestKit.EventuallyAsync(
            async () => handed.Count == 1 && (await JetStreamTestKit.ConsumersAsync(Server, Stream)) is [{ NumAckPending: 2 }],
            () => $"the first message handed on, the second delivered (held for room); handed {string.Join(",", handed)}",
            Deadline);
        Assert.Equal(["0"], handed);
        await first.DisposeAsync();

        var received = new ConcurrentDictionary<string, bool>();
        var self = new TaskCompletionSource<IMessageConsumer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var next = await connection.ConsumeAsync("q", new ConsumerOptions(10), async (delivery, token) =>
        {
            received[Encoding.ASCII.GetString(delivery.Body.Span)] = true;
            await (await self.Task).AckAsync(delivery.DeliveryTag, multiple: false, token);
        }, CancellationToken.None);
        self.SetResult(next);
        await using (next)
        {
            await JetStreamTestKit.EventuallyAsync(
                () => Task.FromResult(received.ContainsKey("0") && received.ContainsKey("1")),
                () => $"both messages at the next consumer within {Prompt} (ack wait {AckWaitMs} ms); it has {string.Join(",", received.Keys.Order())}",
                Prompt);
        }
    }
}
