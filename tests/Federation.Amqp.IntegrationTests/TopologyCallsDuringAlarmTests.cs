using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// During a memory or disk alarm RabbitMQ reads nothing from a connection it blocks, so a topology call on it (a lease's
/// exclusive queue, a ledger's declare, at a link's start) goes unanswered past the client's continuation timeout. The
/// client then throws "A task was canceled.", and that was all a link's error and its warning said (a FederationHost
/// started during an alarm showed <c>TaskCanceledException: A task was canceled.</c>). The failure must be a transport
/// failure that names the cause, and the connection must stay usable once the alarm clears.
/// </summary>
public sealed class TopologyCallUnansweredTests : IAsyncLifetime
{
    private RabbitMqNode node = null!;

    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync();

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task A_declare_a_blocked_broker_leaves_unanswered_fails_naming_the_alarm_and_the_connection_works_once_it_clears()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var blocked = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var request = new ConnectionRequest(node.AmqpUri(), "topology-blocked") { Blocked = blocked.Enqueue };
        var connection = (AmqpConnection)await new AmqpTransport().ConnectAsync(request, timeout.Token);
        connection.TopologyContinuationTimeout = TimeSpan.FromSeconds(2);
        try
        {
            await connection.DeclareQueueAsync(new QueueSpec("q", Durable: false), timeout.Token);
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), timeout.Token);

            var alarm = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0");
            Assert.True(alarm.ExitCode == 0, alarm.Output);
            // RabbitMQ blocks a connection when it publishes during the alarm; from then on it reads nothing from it.
            await publisher.PublishAsync("", "q", new MessageProperties(), new byte[16], timeout.Token);
            await Poll.UntilAsync(() => Task.FromResult(blocked.LastOrDefault()), "connection.blocked should be reported");

            var error = await Assert.ThrowsAnyAsync<TransportException>(async () =>
                await connection.DeclareQueueAsync(new QueueSpec("during-alarm", Durable: false), CancellationToken.None));
            Assert.Contains("did not answer", error.Message, StringComparison.Ordinal);
            Assert.Contains("memory", error.Message, StringComparison.Ordinal);
            Assert.Contains(node.AmqpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
            Assert.Null(connection.ClosedError());

            var clear = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0.4");
            Assert.True(clear.ExitCode == 0, clear.Output);
            await Poll.UntilAsync(() => Task.FromResult(connection.BlockedReason is null ? "unblocked" : null), "connection.unblocked should be seen");

            // A later call gets its own answer, not the late one of the call that timed out.
            await connection.DeclareQueueAsync(new QueueSpec("after-alarm", Durable: false), timeout.Token);
            Assert.Equal(0, await connection.CountQueueMessagesAsync("after-alarm", timeout.Token));
            await publisher.DisposeAsync();
        }
        finally
        {
            await node.CtlAsync(CancellationToken.None, "set_vm_memory_high_watermark", "0.4");
            await connection.DisposeAsync();
        }
    }
}
