using Federation.Core.Transport;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// An auto-ack consumer has no prefetch: the broker sends it the whole queue at once and removes each message as it sends
/// it. Deliveries the client dispatches once the consumer is being disposed reach no handler and cannot go back to the
/// queue: they are counted as dropped (<c>shutdown</c>), never lost silently.
/// </summary>
[Collection(ContractNodeCollection.Name)]
public sealed class NoAckConsumerDisposeTests(RabbitMqNodeFixture fixture)
{
    private const int Messages = 2000;

    [Fact]
    public async Task Auto_acked_deliveries_dispatched_while_the_consumer_is_disposed_are_counted_as_dropped()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var transport = new AmqpTransport();
        var connection = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(), "no-ack-dispose"), timeout.Token);
        var queue = $"amqp.noack.dispose.{Guid.NewGuid():N}";
        try
        {
            await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, AutoDelete: false), timeout.Token);
            await using (var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), timeout.Token))
            {
                // Enough that some are still on their way to the client (in its socket buffer or dispatch queue) when the
                // consumer is disposed: a close straight away let the client discard those, counted nowhere.
                for (var i = 0; i < Messages; i++)
                {
                    await publisher.PublishAsync(string.Empty, queue, new MessageProperties(), new byte[16], timeout.Token);
                }
            }

            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var handled = 0;
            long dropped = 0;
            var options = new ConsumerOptions(0, AutoAck: true)
            {
                Dropped = (reason, count, _) =>
                {
                    if (reason == "shutdown")
                    {
                        Interlocked.Add(ref dropped, count);
                    }
                },
            };
            var consumer = await connection.ConsumeAsync(queue, options, async (_, _) =>
            {
                Interlocked.Increment(ref handled);
                first.TrySetResult();
                await gate.Task;
            }, timeout.Token);

            // The handler holds the first delivery; the broker has sent (and removed) the rest.
            await first.Task.WaitAsync(timeout.Token);
            await Poll.UntilAsync(async () => await connection.CountQueueMessagesAsync(queue, timeout.Token) == 0 ? queue : null, "the broker should have sent the whole queue");

            var disposing = consumer.DisposeAsync().AsTask();
            gate.SetResult();
            await disposing.WaitAsync(timeout.Token);

            Assert.Equal(Messages, Volatile.Read(ref handled) + Interlocked.Read(ref dropped));
        }
        finally
        {
            await connection.DeleteQueueAsync(queue, CancellationToken.None);
            await connection.DisposeAsync();
        }
    }
}
