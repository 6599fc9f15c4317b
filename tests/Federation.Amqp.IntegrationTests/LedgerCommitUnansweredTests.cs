using System.Text;
using Federation.Core.Transport;
using Federation.Testing.Brokers;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A memory or disk alarm on the downstream blocks the ledger's connection: a unit's tx.commit then goes unanswered
/// past the client's continuation timeout, and completes, whole, once the alarm clears. The ledger used to report that as
/// a partial commit, so the link revoked the unit, and its redeliveries, counted as new, were published a second time.
/// The outcome of such a commit is unknown, not partial: it must not be reported as <see cref="UnitPartlyCommittedException"/>.
/// </summary>
public sealed class LedgerCommitUnansweredTests : IAsyncLifetime
{
    private RabbitMqNode node = null!;

    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync();

    public async Task DisposeAsync() => await node.DisposeAsync();

    [Fact]
    public async Task A_commit_a_blocked_broker_leaves_unanswered_is_not_reported_as_partly_committed_and_stands_once_the_alarm_clears()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var connection = await new AmqpTransport().ConnectAsync(new ConnectionRequest(node.AmqpUri(), "ledger-blocked"), timeout.Token);
        try
        {
            await connection.DeclareQueueAsync(new QueueSpec("q", Durable: false), timeout.Token);
            await using var ledger = (AmqpLedger)(await connection.OpenLedgerAsync(new LedgerOptions("ledger", 1_000_000), timeout.Token))!;
            ledger.UnitContinuationTimeout = TimeSpan.FromSeconds(2);
            LedgerMessage Message(string id) => new("", "q", new MessageProperties { MessageId = id }, Encoding.UTF8.GetBytes(id));
            await ledger.PublishAndRecordAsync([Message("m0")], "r0"u8.ToArray(), timeout.Token);

            // A memory alarm: the broker stops reading from connections that publish, so the commit waits in the socket.
            var alarm = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0");
            Assert.True(alarm.ExitCode == 0, alarm.Output);
            var error = await Assert.ThrowsAnyAsync<TransportException>(async () =>
                await ledger.PublishAndRecordAsync([Message("m1")], "r1"u8.ToArray(), CancellationToken.None));
            Assert.IsNotType<UnitPartlyCommittedException>(error);
            Assert.Contains("did not answer the commit", error.Message, StringComparison.Ordinal);
            Assert.Null(((AmqpConnection)connection).ClosedError());

            var clear = await node.CtlAsync(timeout.Token, "set_vm_memory_high_watermark", "0.4");
            Assert.True(clear.ExitCode == 0, clear.Output);

            // The commit went through after all: the message and its record are both stored, so revoking the record would
            // have made the message's redelivery a duplicate.
            var factory = new ConnectionFactory { Uri = new Uri(node.AmqpUri()) };
            await using var client = await factory.CreateConnectionAsync(timeout.Token);
            await using var channel = await client.CreateChannelAsync(cancellationToken: timeout.Token);
            var messages = new List<string>();
            var records = new List<string>();
            await Poll.UntilAsync(async () =>
            {
                while (await channel.BasicGetAsync("q", autoAck: true, timeout.Token) is { } got)
                {
                    messages.Add(Encoding.UTF8.GetString(got.Body.Span));
                }

                while (await channel.BasicGetAsync("ledger", autoAck: true, timeout.Token) is { } got)
                {
                    records.Add(Encoding.UTF8.GetString(got.Body.Span));
                }

                return records.Count >= 2 ? records : null;
            }, "the unanswered unit should be committed once the alarm clears");
            Assert.Equal(["r0", "r1"], records);
            Assert.Equal(["m0", "m1"], messages);
        }
        finally
        {
            await node.CtlAsync(CancellationToken.None, "set_vm_memory_high_watermark", "0.4");
            await connection.DisposeAsync();
        }
    }
}
