using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// Core NATS messages waiting in an emulated queue when its connection closes are gone: nothing can send them again. They
/// are counted (<c>shutdown</c>) to the queue's consumers, once, instead of vanishing with the connection.
/// </summary>
public sealed class NatsQueueLossOnCloseTests : IAsyncLifetime
{
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync() => _server = await NatsServerProcess.StartAsync("-n", "queue-loss");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Messages_left_in_a_queue_when_its_connection_is_disposed_are_counted_once()
    {
        var connection = (NatsBrokerConnection)await new NatsTransport().ConnectAsync(new ConnectionRequest(_server.Url, "t"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await connection.BindAsync(new BindingSpec("orders", "q", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);
        var drops = new List<(string Reason, long Count)>();
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (var publisher = new NatsConnection(NatsOpts.Default with { Url = _server.Url }))
        {
            for (var i = 0; i < 5; i++)
            {
                await publisher.PublishAsync("orders.k", i);
            }

            await publisher.PingAsync();
        }

        // Queued before the consumer starts: a queue with one consumer hands later messages to it on the read loop, so
        // only what waited before it came is held in the emulated queue.
        await Eventually.TrueAsync(() => connection.QueuedMessages("q") == 5, "five messages waiting in the emulated queue");
        var consumer = await connection.ConsumeAsync(
            "q",
            new ConsumerOptions(1) { Dropped = (reason, count, _) => { lock (drops) { drops.Add((reason, count)); } } },
            async (_, _) =>
            {
                inHandler.TrySetResult();
                await release.Task;
            },
            CancellationToken.None);

        // The first is in the handler, the other four wait in the queue.
        await inHandler.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => connection.QueuedMessages("q") == 4, "four messages waiting in the emulated queue");

        // A consumer stopped on an open connection leaves them in the queue (another consumer may take them).
        var stopping = consumer.DisposeAsync().AsTask();
        release.SetResult();
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        lock (drops)
        {
            Assert.Empty(drops);
        }

        await connection.DisposeAsync();
        lock (drops)
        {
            Assert.Equal([("shutdown", 4L)], drops);
        }
    }
}
