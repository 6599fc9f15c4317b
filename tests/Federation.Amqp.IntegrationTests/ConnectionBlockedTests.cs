using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A memory alarm makes RabbitMQ block publishing connections, which stay up: the transport must hand the broker's
/// connection.blocked (with its reason) and connection.unblocked to <see cref="ConnectionRequest.Blocked"/>, or the stall
/// is invisible to the engine.
/// </summary>
public sealed class ConnectionBlockedTests : IAsyncLifetime
{
    private RabbitMqNode node = null!;

    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync();

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task A_memory_alarm_is_reported_as_blocked_with_the_brokers_reason_and_its_end_as_unblocked()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var reports = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var request = new ConnectionRequest(node.AmqpUri(), "blocked-report") { Blocked = reports.Enqueue };
        var connection = await new AmqpTransport().ConnectAsync(request, timeout.Token);
        try
        {
            await connection.DeclareQueueAsync(new QueueSpec("q", Durable: false), timeout.Token);
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), timeout.Token);

            var alarm = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0");
            Assert.True(alarm.ExitCode == 0, alarm.Output);
            // RabbitMQ blocks a connection when it publishes during the alarm.
            await publisher.PublishAsync("", "q", new MessageProperties(), new byte[16], timeout.Token);
            var reason = await Poll.UntilAsync(() => Task.FromResult(reports.LastOrDefault()), "connection.blocked should be reported");
            Assert.Contains("memory", reason, StringComparison.Ordinal);

            var clear = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0.4");
            Assert.True(clear.ExitCode == 0, clear.Output);
            await Poll.UntilAsync(() => Task.FromResult(reports.Count >= 2 && reports.Last() is null ? "unblocked" : null), "connection.unblocked should be reported");
            await publisher.DisposeAsync();
        }
        finally
        {
            await node.CtlAsync(CancellationToken.None, "set_vm_memory_high_watermark", "0.4");
            await connection.DisposeAsync();
        }
    }
}
