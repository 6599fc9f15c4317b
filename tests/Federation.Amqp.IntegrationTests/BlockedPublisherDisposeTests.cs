using System.Text;
using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A downstream that keeps the connection up but stops confirming (a memory or disk alarm: the broker blocks publishing
/// connections) must not hold the publisher's dispose, and with it a link's stop or restart, for as long as the alarm
/// lasts: AmqpPublisher.DisposeAsync used to wait for its drain, which waited for the confirm window with no token.
/// </summary>
public sealed class BlockedPublisherDisposeTests : IAsyncLifetime
{
    private RabbitMqNode node = null!;

    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync();

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task Disposing_a_publisher_whose_broker_stopped_confirming_completes_within_a_bound()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var transport = new AmqpTransport();
        var connection = await transport.ConnectAsync(new ConnectionRequest(node.AmqpUri(), "blocked-dispose"), timeout.Token);
        try
        {
            await connection.DeclareExchangeAsync(new ExchangeSpec("x", ExchangeSpec.Types.Fanout), timeout.Token);
            await connection.DeclareQueueAsync(new QueueSpec("q", Durable: false), timeout.Token);
            await connection.BindAsync(new BindingSpec("x", "q", BindingDestinationKind.Queue, ""), false, timeout.Token);
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true, MaxOutstandingConfirms: 1), timeout.Token);
            await publisher.PublishAsync("x", "", new MessageProperties(), Encoding.UTF8.GetBytes("before"), timeout.Token);

            // A memory alarm: the broker stops reading from connections that publish.
            var alarm = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0");
            Assert.True(alarm.ExitCode == 0, alarm.Output);

            // As a link pipelines them: not awaited, no token.
            var publishes = Enumerable.Range(0, 5).Select(i => publisher.PublishAsync("x", "", new MessageProperties(), new byte[1024], CancellationToken.None).AsTask()).ToList();

            var dispose = publisher.DisposeAsync().AsTask();
            var finished = await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(20), timeout.Token));

            var clear = await node.CtlAsync(CancellationToken.None, "set_vm_memory_high_watermark", "0.4");
            Assert.True(clear.ExitCode == 0, clear.Output);
            await Task.WhenAll(publishes.Select(p => p.ContinueWith(_ => { }, TaskScheduler.Default)));
            Assert.True(finished == dispose, "AmqpPublisher.DisposeAsync did not complete within 20 s of the broker blocking the connection");
        }
        finally
        {
            await node.CtlAsync(CancellationToken.None, "set_vm_memory_high_watermark", "0.4");
            await connection.DisposeAsync();
        }
    }
}
