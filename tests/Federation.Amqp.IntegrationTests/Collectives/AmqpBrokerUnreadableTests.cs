using System.Collections.Concurrent;
using System.Text;
using Federation.Amqp.Messaging;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>
/// A request whose AMQP header RabbitMQ.Client cannot read is dropped by the subject transport before the broker sees it;
/// the broker counts it in <c>federation.broker.errors</c> as <c>unreadable</c>, tagged with its side, and relays the rest.
/// It used to be logged only, so a dashboard of the broker's errors showed nothing while requests went missing.
/// </summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpBrokerUnreadableTests(RabbitMqNodeFixture fixture)
{
    [Fact]
    public async Task A_request_the_client_cannot_read_is_counted_as_unreadable_and_the_rest_is_relayed()
    {
        var cluster = $"unreadable{Guid.NewGuid():N}"[..24];
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
        await using var side = await transport.ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri(), "client"), CancellationToken.None);
        await using var collective = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUri, "node"), CancellationToken.None);
        var node = $"{cluster}.node.web1";
        var atNode = new ConcurrentQueue<string>();
        await collective.SubscribeAsync(node, null, (m, _) => { atNode.Enqueue(Encoding.UTF8.GetString(m.Body.Span)); return ValueTask.CompletedTask; }, CancellationToken.None);

        // Any AMQP client can publish a decimal of scale 200 in a header; RabbitMQ accepts it, RabbitMQ.Client cannot read it.
        var factory = new ConnectionFactory { Uri = new Uri(fixture.Node.AmqpUri()) };
        await using var raw = await factory.CreateConnectionAsync();
        await using var publisher = await raw.CreateChannelAsync();
        var culprit = RawContentHeader.WithFields("culprit", RawContentHeader.TableField("outer", RawContentHeader.DecimalField("d", scale: 200, value: 1)));
        await publisher.BasicPublishAsync(AmqpSubjectTransport.Exchange, subjects.Federation, mandatory: false, culprit, Encoding.UTF8.GetBytes("culprit"));
        await side.PublishAsync(new SubjectMessage(subjects.Federation, Encoding.UTF8.GetBytes("good"),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, $"{cluster}.reply.r1"), new(FederationHeaders.Target, node)]), CancellationToken.None);

        await Poll.UntilAsync(() => Task.FromResult(atNode.Contains("good") ? atNode : null), "the readable request should be relayed");
        await Poll.UntilAsync(() => Task.FromResult(errors.Count(BrokerErrorTypes.Unreadable, "request") == 1 ? errors : null),
            "the unreadable request should be counted once as 'unreadable' on the request side");
        Assert.Equal(["good"], atNode);
        Assert.Equal(0, errors.Count(BrokerErrorTypes.Unreadable, "reply"));
        Assert.Equal(1, broker.Statistics.Errors);
        Assert.True(broker.IsConnected);
    }
}
