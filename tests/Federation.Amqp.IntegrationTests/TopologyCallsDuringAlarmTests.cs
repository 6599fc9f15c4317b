using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// During a memory or disk alarm RabbitMQ reads nothing from a connection it blocks, which it does once the connection
/// publishes. The publishers have a connection of their own (AmqpConnection.CreatePublishChannelAsync), so a topology call
/// (a lease's exclusive queue, a ledger's declare, at a link's start) is still answered while an alarm blocks them. Before,
/// on the one shared connection, it went unanswered past the client's continuation timeout, and a link failed its start
/// (saying so since 5 Dec 2026: "did not answer ... a memory or disk alarm"). The publishers go on once the alarm clears.
/// </summary>
public sealed class TopologyCallsDuringAlarmTests : IAsyncLifetime
{
    private RabbitMqNode node = null!;

    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync();

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task A_declare_is_answered_while_an_alarm_blocks_the_publishers_which_go_on_once_it_clears()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var blocked = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var request = new ConnectionRequest(node.AmqpUri(), "topology-blocked") { Blocked = blocked.Enqueue };
        var connection = (AmqpConnection)await new AmqpTransport().ConnectAsync(request, timeout.Token);
        connection.TopologyContinuationTimeout = TimeSpan.FromSeconds(2);
        try
        {
            await connection.DeclareQueueAsync(new QueueSpec("q", Durable: false), timeout.Token);
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), timeout.Token);

            var (held, reason) = await BlockPublishingAsync(publisher, blocked, timeout.Token);
            Assert.Contains("memory", reason, StringComparison.Ordinal);

            // Within the 2 s the topology channel waits for an answer: the alarm blocks the publishing connection only.
            await connection.DeclareQueueAsync(new QueueSpec("during-alarm", Durable: false), timeout.Token);
            var lease = (await connection.Leases.TryAcquireAsync(new LeaseRequest("lease during the alarm", "test"), timeout.Token)).Lease;
            Assert.NotNull(lease);
            Assert.Null(connection.BlockedReason);
            Assert.False(held.IsCompleted, "the broker confirmed a publish during the alarm");

            var clear = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0.4");
            Assert.True(clear.ExitCode == 0, clear.Output);
            await held.WaitAsync(timeout.Token);
            await Poll.UntilAsync(() => Task.FromResult(blocked.Count >= 2 && blocked.LastOrDefault() is null ? "unblocked" : null), "connection.unblocked should be reported");
            Assert.Equal(1, await connection.CountQueueMessagesAsync("q", timeout.Token));
            await lease.DisposeAsync();
            await publisher.DisposeAsync();
        }
        finally
        {
            await node.CtlAsync(CancellationToken.None, "set_vm_memory_high_watermark", "0.4");
            await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// A publishing connection that closes while blocked never says unblocked, and the next one may never be blocked: the
    /// block it reported must end with it, or the downstream stayed "blocked" (status, health) after the alarm cleared.
    /// </summary>
    [Fact]
    public async Task A_publishing_connection_closed_while_blocked_ends_the_block_it_reported()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var blocked = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var request = new ConnectionRequest(node.AmqpUri(), "blocked-closed") { Blocked = blocked.Enqueue };
        var connection = await new AmqpTransport().ConnectAsync(request, timeout.Token);
        try
        {
            await connection.DeclareQueueAsync(new QueueSpec("q", Durable: false), timeout.Token);
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), timeout.Token);
            await BlockPublishingAsync(publisher, blocked, timeout.Token);

            var listed = await node.CtlAsync(timeout.Token, "list_connections", "pid", "client_properties", "--silent");
            Assert.True(listed.ExitCode == 0, listed.Output);
            var pid = Assert.Single(listed.Output.Split('\n'), line => line.Contains("blocked-closed" + AmqpTransport.PublishingSuffix, StringComparison.Ordinal)).Split('\t')[0].Trim();
            var closed = await node.CtlAsync(timeout.Token, "close_connection", pid, "the test closes the blocked publishing connection");
            Assert.True(closed.ExitCode == 0, closed.Output);

            await Poll.UntilAsync(() => Task.FromResult(blocked.Count >= 2 && blocked.LastOrDefault() is null ? "over" : null), $"the block should end with the connection; reported: [{string.Join(", ", blocked)}]");
            Assert.False(connection.Completion.IsCompleted, "the connection ended with its publishing connection");
            await publisher.DisposeAsync();
        }
        finally
        {
            await node.CtlAsync(CancellationToken.None, "set_vm_memory_high_watermark", "0.4");
            await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Raises a memory alarm and publishes to queue <c>q</c>: RabbitMQ blocks a connection when it publishes during the
    /// alarm, and from then on reads nothing from it. Returns the publish (confirmed only once the alarm clears, with
    /// confirms) and the reason reported once the block is.
    /// </summary>
    private async Task<(Task Held, string Reason)> BlockPublishingAsync(IMessagePublisher publisher, System.Collections.Concurrent.ConcurrentQueue<string?> blocked, CancellationToken cancellationToken)
    {
        var alarm = await node.CtlAsync(cancellationToken, "set_vm_memory_high_watermark", "0");
        Assert.True(alarm.ExitCode == 0, alarm.Output);
        var held = publisher.PublishAsync("", "q", new MessageProperties(), new byte[16], cancellationToken).AsTask();
        var reason = await Poll.UntilAsync(() => Task.FromResult(blocked.LastOrDefault()), "connection.blocked should be reported");
        return (held, reason);
    }
}
