using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Federation.Core.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// A durable link restarted under traffic (a reload, or the restart endpoint) stops its consumer and starts another on the
/// same durable consumer: what the stopped one had taken from the server, handed on or not, must come back to the next one
/// at once. Messages the client had pulled but the consumer had not yet read were neither acknowledged nor nak'ed, and came
/// back only after the ack wait, out of order.
/// </summary>
public sealed class JetStreamConsumerRestartTests(ITestOutputHelper output) : JetStreamSingleServerTests("js-restart")
{
    private const int Restarts = 3;

    /// <summary>Far longer than <see cref="Settle"/>: a message that waited for it cannot pass for a prompt one.</summary>
    private const int AckWaitMs = 60_000;

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(1)]
    [InlineData(50)]
    [InlineData(1000)]
    public async Task A_consumer_restarted_under_traffic_gets_every_message_back_at_once_not_after_the_ack_wait(int prefetch)
    {
        var connection = await ConnectWithBoundQueueAsync(AckWaitMs);
        await using var _ = connection;

        var received = new ConcurrentDictionary<int, int>();
        IMessageConsumer? current = null;
        ValueTask<IMessageConsumer> StartAsync() => connection.ConsumeAsync(
            "q",
            new ConsumerOptions(prefetch),
            async (delivery, token) =>
            {
                received.AddOrUpdate(int.Parse(Encoding.ASCII.GetString(delivery.Body.Span), CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
                await Volatile.Read(ref current)!.AckAsync(delivery.DeliveryTag, multiple: false, token);
            },
            CancellationToken.None);

        Volatile.Write(ref current, await StartAsync());
        // Steady traffic, as in a real link, so that the client always has messages in flight.
        await using var producer = new SteadyJetStreamPublisher(Server.Url, _ => "orders.x");

        for (var restart = 0; restart < Restarts; restart++)
        {
            var before = received.Count;
            await JetStreamTestKit.EventuallyAsync(
                () => Task.FromResult(received.Count >= before + 200),
                () => $"200 more messages before restart {restart}; have {received.Count}",
                Deadline);
            var stopping = Volatile.Read(ref current)!;
            await stopping.DisposeAsync();
            Volatile.Write(ref current, await StartAsync());
        }

        await JetStreamTestKit.EventuallyAsync(
            () => Task.FromResult(received.Count >= 200 * (Restarts + 1)),
            () => $"messages after the last restart; have {received.Count}",
            Deadline);
        var total = await producer.StopAsync();
        output.WriteLine($"{total} published");

        try
        {
            await JetStreamTestKit.EventuallyAsync(
                () => Task.FromResult(received.Count >= total),
                () => $"all {total} messages within {Settle} (ack wait {AckWaitMs} ms); missing {total - received.Count}: " +
                    string.Join(",", Enumerable.Range(0, total).Where(i => !received.ContainsKey(i)).Take(50)),
                Settle);
        }
        finally
        {
            await Volatile.Read(ref current)!.DisposeAsync();
        }

        Assert.Equal(Enumerable.Range(0, total), received.Keys.Order());
    }
}
