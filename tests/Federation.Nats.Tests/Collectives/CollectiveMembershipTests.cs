using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Nats.Tests.Collectives;

/// <summary>Isolation and membership over real nats-servers: 3 collectives, 1 federation, and a second federation for London.</summary>
[Collection(CollectivesCollection.Name)]
public sealed class CollectiveMembershipTests(CollectivesFixture fixture)
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(15);

    // Long enough for a stray reply to arrive on loopback; only used where a test proves that nothing more comes.
    private static readonly TimeSpan NothingMoreWindow = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task TheFederation_ReachesEveryCollective_AndTheClientGetsPlainRepliesWithTheTrail()
    {
        var (client, connection) = await fixture.OpenClientAsync(fixture.Federation);
        await using var _ = connection;
        var body = $"ping-{Guid.NewGuid():N}";

        var result = await client.RequestAsync(Request([.. CollectivesFixture.CollectiveNames], [CollectiveNode.Broadcast], body, expected: 6), CancellationToken.None);

        Assert.True(result.Completed);
        Assert.Equal(3, result.MessagesPublished);
        var everyNode = CollectivesFixture.CollectiveNames.SelectMany(c => new[] { CollectivesFixture.NodeName(c, 1), CollectivesFixture.NodeName(c, 2) }).Order();
        Assert.Equal(everyNode, result.Replies.Select(BodyOf).Order());
        foreach (var reply in result.Replies)
        {
            var node = BodyOf(reply);
            var collective = node[..node.IndexOf('-', StringComparison.Ordinal)];
            Assert.DoesNotContain(reply.Headers!, h => FederationHeaders.IsEnvelopeHeader(h.Key) && !string.Equals(h.Key, FederationHeaders.SeenBy, StringComparison.OrdinalIgnoreCase));
            Assert.Contains(new KeyValuePair<string, string>("node", node), reply.Headers!);
            var trail = FederatedMessages.GetSeenBy(reply);
            var federationUrl = fixture.Federation.Url;
            var collectiveUrl = fixture.Collectives[collective].Url;
            Assert.Equal(new SeenByHop(federationUrl, "test-client", federationUrl), trail[0]);
            Assert.Equal(new SeenByHop(federationUrl, $"{collective}-broker", collectiveUrl), trail[1]);
            Assert.Equal(new SeenByHop(collectiveUrl, $"{collective}-broker", federationUrl), trail[^1]);
        }

        Assert.All(fixture.Nodes.Values.SelectMany(n => n), node => Assert.Single(node.Received, body));
    }

    [Fact]
    public async Task DirectedRequests_ReachOnlyTheNamedNodes()
    {
        var (client, connection) = await fixture.OpenClientAsync(fixture.Federation);
        await using var _ = connection;
        var body = $"directed-{Guid.NewGuid():N}";
        string[] targets = [CollectiveNode.DirectSubject("london-1"), CollectiveNode.DirectSubject("tokyo-2")];

        var result = await client.RequestAsync(Request([.. CollectivesFixture.CollectiveNames], targets, body, expected: 3, NothingMoreWindow), CancellationToken.None);

        Assert.False(result.Completed);
        Assert.Equal(["london-1", "tokyo-2"], result.Replies.Select(BodyOf).Order());
    }

    [Fact]
    public async Task NoCollective_CanReachAnother()
    {
        var london = fixture.Collectives["london"];
        var errorsBefore = fixture.Brokers["london"].Statistics.Errors;
        var escape = $"escape-{Guid.NewGuid():N}";

        // 1. Natively, a London client reaches London's nodes only.
        await using var native = await fixture.Transport.ConnectAsync(new SubjectConnectionRequest(london.Url, "london-client"), CancellationToken.None);
        var nativeReplies = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var replySubject = $"mcollective.reply.native.{Guid.NewGuid():N}";
        await native.SubscribeAsync(replySubject, null, (m, _) => { nativeReplies.Enqueue(BodyOf(m)); return ValueTask.CompletedTask; }, CancellationToken.None);
        await native.PublishAsync(new SubjectMessage(CollectiveNode.Broadcast, Encoding.UTF8.GetBytes(escape), ReplyTo: replySubject), CancellationToken.None);
        await Eventually.TrueAsync(() => nativeReplies.Count == 2, "London's two nodes answer");

        // 2. From inside London, the federation subjects of other clusters lead nowhere: their brokers are not on this server.
        var (londonSide, londonSideConnection) = await fixture.OpenClientAsync(london);
        await using (londonSideConnection)
        {
            var fromInside = await londonSide.RequestAsync(Request(["tokyo", "newyork"], [CollectiveNode.Broadcast], escape, expected: 1, NothingMoreWindow), CancellationToken.None);
            Assert.Empty(fromInside.Replies);
        }

        // 3. Through London's broker, a target in another collective's namespace or on the federation is refused or lands in London.
        var (client, connection) = await fixture.OpenClientAsync(fixture.Federation);
        await using var _ = connection;
        var refused = await client.RequestAsync(Request(["london"], ["choria.federation.tokyo.federation", CollectiveNode.DirectSubject("tokyo-1")], escape, expected: 1, NothingMoreWindow), CancellationToken.None);
        Assert.Empty(refused.Replies);

        // A request through every broker afterwards: once it is answered, London's broker has handled the escape attempts.
        var marker = $"marker-{Guid.NewGuid():N}";
        var markerResult = await client.RequestAsync(Request([.. CollectivesFixture.CollectiveNames], [CollectiveNode.Broadcast], marker, expected: 6), CancellationToken.None);
        Assert.True(markerResult.Completed);
        Assert.Equal(["london-1", "london-2"], nativeReplies.Order());
        Assert.Equal(1, fixture.Brokers["london"].Statistics.Errors - errorsBefore);
        foreach (var collective in new[] { "tokyo", "newyork" })
        {
            Assert.All(fixture.Nodes[collective], node => Assert.DoesNotContain(escape, node.Received));
        }

        Assert.All(fixture.Nodes["london"], node => Assert.Single(node.Received, escape));
    }

    [Fact]
    public async Task ACollective_InTwoFederations_AnswersEach_ThroughItsOwnBrokerCluster()
    {
        var (first, firstConnection) = await fixture.OpenClientAsync(fixture.Federation);
        await using var _ = firstConnection;
        var (second, secondConnection) = await fixture.OpenClientAsync(fixture.SecondFederation);
        await using var __ = secondConnection;
        var secondBefore = fixture.Brokers["london_second"].Statistics;

        var viaFirst = client(first, ["london"], $"first-{Guid.NewGuid():N}");
        var viaSecond = client(second, ["london_second", "tokyo", "newyork"], $"second-{Guid.NewGuid():N}");
        var results = await Task.WhenAll(viaFirst, viaSecond);

        // Each federation gets London's two answers once: replies go back through the cluster that carried the request.
        Assert.Equal(["london-1", "london-2"], results[0].Replies.Select(BodyOf).Order());
        Assert.Equal(["london-1", "london-2"], results[1].Replies.Select(BodyOf).Order());
        var secondAfter = fixture.Brokers["london_second"].Statistics;
        Assert.Equal(1, secondAfter.RequestsReceived - secondBefore.RequestsReceived);
        Assert.Equal(2, secondAfter.RepliesReceived - secondBefore.RepliesReceived);
        Assert.Contains(results[1].Replies, r => FederatedMessages.GetSeenBy(r).Any(h => h.Processor == "london-second-broker" && h.Out == fixture.SecondFederation.Url));

        Task<FederatedReplies> client(FederatedClient c, string[] federations, string body) =>
            c.RequestAsync(Request(federations, [CollectiveNode.Broadcast], body, expected: 3, NothingMoreWindow), CancellationToken.None);
    }

    private static FederatedRequest Request(string[] federations, string[] targets, string body, int expected, TimeSpan? timeout = null) => new()
    {
        Federations = federations,
        Targets = targets,
        Body = Encoding.UTF8.GetBytes(body),
        ExpectedReplies = expected,
        Timeout = timeout ?? ReplyTimeout,
    };

    private static string BodyOf(SubjectMessage message) => Encoding.UTF8.GetString(message.Body.Span);
}
