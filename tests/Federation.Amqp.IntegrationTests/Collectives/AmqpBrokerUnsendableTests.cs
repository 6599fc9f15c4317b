using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Federation.Amqp.Messaging;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>
/// A broker instance relaying to RabbitMQ a message whose subject AMQP cannot carry (a routing key is at most 255 bytes;
/// the broker's own guard allows 1024) drops that one message, counts it as <c>unsendable</c>, and relays the rest.
/// </summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpBrokerUnsendableTests(RabbitMqNodeFixture fixture)
{
    [Fact]
    public async Task A_target_or_reply_subject_over_amqps_limit_is_dropped_as_unsendable_and_the_rest_is_relayed()
    {
        var cluster = $"unsendable{Guid.NewGuid():N}"[..24];
        var subjects = FederationBrokerSubjects.For(cluster);
        using var errors = new BrokerErrorRecorder(cluster);
        var transport = new AmqpSubjectTransport();
        // The collective on a vhost of its own: one vhost is one message bus, which an instance may not have on both sides.
        var collectiveUri = await CollectiveVhost.CreateAsync(fixture.Node, cluster);
        await using var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = cluster, FederationUri = fixture.Node.AmqpUri(), CollectiveUri = collectiveUri, InstanceName = $"{cluster}-1" },
            [transport]);
        await broker.StartAsync(CancellationToken.None);
        Assert.True(broker.IsConnected, broker.ConnectError);
        await using var client = await transport.ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri(), "client"), CancellationToken.None);
        await using var collective = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUri, "node"), CancellationToken.None);
        var node = $"{cluster}.node.web1";
        var atNode = new ConcurrentQueue<string>();
        await collective.SubscribeAsync(node, null, (m, _) => { atNode.Enqueue(Encoding.UTF8.GetString(m.Body.Span)); return ValueTask.CompletedTask; }, CancellationToken.None);
        var atClient = new ConcurrentQueue<string>();
        await client.SubscribeAsync($"{cluster}.reply.>", null, (m, _) => { atClient.Enqueue(Encoding.UTF8.GetString(m.Body.Span)); return ValueTask.CompletedTask; }, CancellationToken.None);
        var longTarget = $"{cluster}.node.{new string('x', 300)}";
        var longReply = $"{cluster}.reply.{new string('r', 300)}";

        // One request to the long target and to the node: only the node's copy can go.
        await client.PublishAsync(Request("r1", $"{cluster}.reply.r1", "both", longTarget, node), CancellationToken.None);
        // A reply from the collective whose client reply subject is too long, then one that is fine.
        await collective.PublishAsync(Reply("r2", longReply, "lost reply"), CancellationToken.None);
        await collective.PublishAsync(Reply("r3", $"{cluster}.reply.r3", "good reply"), CancellationToken.None);
        await client.PublishAsync(Request("r4", $"{cluster}.reply.r4", "later", node), CancellationToken.None);

        await Poll.UntilAsync(() => Task.FromResult(atNode.Contains("later") && atClient.Contains("good reply") ? atNode : null), "the relayable messages should arrive");
        Assert.Equal(["both", "later"], atNode);
        Assert.Equal(["good reply"], atClient);
        Assert.Equal(1, errors.Count(BrokerErrorTypes.Unsendable, "request"));
        Assert.Equal(1, errors.Count(BrokerErrorTypes.Unsendable, "reply"));
        Assert.Equal(0, errors.Count(BrokerErrorTypes.PublishFailed, "request") + errors.Count(BrokerErrorTypes.PublishFailed, "reply"));
        Assert.Equal(2, broker.Statistics.Errors);
        Assert.True(broker.IsConnected);

        SubjectMessage Request(string id, string replyTo, string body, params string[] targets) =>
            new(subjects.Federation, Encoding.UTF8.GetBytes(body),
                [new(FederationHeaders.RequestId, id), new(FederationHeaders.ReplyTo, replyTo), .. targets.Select(t => new KeyValuePair<string, string>(FederationHeaders.Target, t))]);

        SubjectMessage Reply(string id, string replyTo, string body) =>
            new(subjects.Collective, Encoding.UTF8.GetBytes(body), [new(FederationHeaders.RequestId, id), new(FederationHeaders.ReplyTo, replyTo)]);
    }
}
