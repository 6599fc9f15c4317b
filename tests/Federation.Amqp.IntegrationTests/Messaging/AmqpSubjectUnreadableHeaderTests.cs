using System.Collections.Concurrent;
using System.Text;
using Federation.Amqp.Messaging;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Messaging;

/// <summary>
/// A message on <c>amq.topic</c> with a header RabbitMQ.Client cannot read (published by any AMQP client; RabbitMQ
/// accepts it) costs that message and nothing else: it used to close the connection of every subscriber, and of every
/// member of a queue group in turn, with everything their queues held.
/// </summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpSubjectUnreadableHeaderTests(RabbitMqNodeFixture fixture)
{
    [Theory]
    [InlineData("decimal")]
    [InlineData("nesting")]
    public async Task A_header_the_client_cannot_read_costs_that_message_and_not_the_connections(string culpritKind)
    {
        using var logs = new CapturedLogs();
        var transport = new AmqpSubjectTransport(logs);
        var prefix = $"unreadable.{Guid.NewGuid():N}";
        var received = new ConcurrentQueue<string>();
        var droppedBySubscription = new ConcurrentQueue<string>();
        var members = new List<ISubjectConnection>();
        try
        {
            // Two members of one queue group, as two broker instances; each also has a plain subscription.
            for (var i = 0; i < 2; i++)
            {
                var member = await transport.ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri(), $"member-{i}"), CancellationToken.None);
                members.Add(member);
                var name = $"member-{i}";
                await member.SubscribeAsync($"{prefix}.group", "g", Record("group"), RecordDrop("group"), CancellationToken.None);
                await member.SubscribeAsync($"{prefix}.plain", null, Record($"plain@{name}"), RecordDrop($"plain@{name}"), CancellationToken.None);
            }

            var factory = new ConnectionFactory { Uri = new Uri(fixture.Node.AmqpUri()) };
            await using var raw = await factory.CreateConnectionAsync();
            // No confirms on this channel: the client then writes the raw properties as they are.
            await using var publisher = await raw.CreateChannelAsync();
            var culprit = culpritKind == "decimal"
                ? RawContentHeader.WithFields("culprit", RawContentHeader.TableField("outer", RawContentHeader.DecimalField("d", scale: 200, value: 1)))
                : RawContentHeader.WithFields("culprit", RawContentHeader.NestedArraysField("outer", 20_000));
            foreach (var subject in new[] { "group", "plain" })
            {
                await publisher.BasicPublishAsync(AmqpSubjectTransport.Exchange, $"{prefix}.{subject}", Encoding.UTF8.GetBytes("before"));
                await publisher.BasicPublishAsync(AmqpSubjectTransport.Exchange, $"{prefix}.{subject}", mandatory: false, culprit, Encoding.UTF8.GetBytes("culprit"));
                await publisher.BasicPublishAsync(AmqpSubjectTransport.Exchange, $"{prefix}.{subject}", Encoding.UTF8.GetBytes("after"));
            }

            string[] expected = ["group:before", "group:after", "plain@member-0:before", "plain@member-0:after", "plain@member-1:before", "plain@member-1:after"];
            await Poll.UntilAsync(() => Task.FromResult(expected.All(received.Contains) ? received : null), $"everything but the culprit should arrive; got {string.Join(", ", received)}; logs: {logs.Text}");

            // Each copy of the culprit (one in the group's queue, one in each plain subscription's) dropped once, logged
            // with its queue and routing key; no connection closed, nothing delivered twice.
            var dropped = await Poll.UntilAsync(() => Task.FromResult(Dropped(logs) is { Length: 3 } three ? three : null), $"three drops should be logged; logs: {logs.Text}");
            Assert.Single(dropped, entry => entry.Contains($"routing key '{prefix}.group'", StringComparison.Ordinal) && entry.Contains($"queue 'federation.subject-group g {prefix}.group'", StringComparison.Ordinal));
            Assert.Equal(2, dropped.Count(entry => entry.Contains($"routing key '{prefix}.plain'", StringComparison.Ordinal) && entry.Contains("queue 'amq.gen-", StringComparison.Ordinal)));
            Assert.All(dropped, entry => Assert.Contains(culpritKind == "decimal" ? "scale 200" : "nests tables and arrays", entry, StringComparison.Ordinal));
            Assert.All(members, member => Assert.False(member.Completion.IsCompleted, logs.Text));
            Assert.Equal(expected.Order(), received.Order());

            // Each drop was also told to its subscriber, for the subscriber's own count (a broker's error metric).
            await Poll.UntilAsync(() => Task.FromResult(droppedBySubscription.Count >= 3 ? droppedBySubscription : null), "each drop should be told to its subscription");
            Assert.Equal(["group:unreadable", "plain@member-0:unreadable", "plain@member-1:unreadable"], droppedBySubscription.Order());

            // And the connections go on.
            await members[1].PublishAsync(new SubjectMessage($"{prefix}.group", "later"u8.ToArray()), CancellationToken.None);
            await Poll.UntilAsync(() => Task.FromResult(received.Contains("group:later") ? received : null), "'later' should arrive");
            Assert.Equal(3, Dropped(logs).Length);
        }
        finally
        {
            foreach (var member in members)
            {
                await member.DisposeAsync();
            }
        }

        MessageDropHandler RecordDrop(string subscription) => (reason, count, _) =>
        {
            for (var i = 0; i < count; i++)
            {
                droppedBySubscription.Enqueue($"{subscription}:{reason}");
            }
        };

        SubjectMessageHandler Record(string subscription) => (message, _) =>
        {
            received.Enqueue($"{subscription}:{Encoding.UTF8.GetString(message.Body.Span)}");
            return ValueTask.CompletedTask;
        };
    }

    private static string[] Dropped(CapturedLogs logs) =>
        [.. logs.Entries.Where(entry => entry.EventId.Id == 7103).Select(entry => entry.Message)];
}
