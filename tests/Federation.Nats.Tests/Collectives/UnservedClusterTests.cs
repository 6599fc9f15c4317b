using System.Text;
using Federation.Core.Collectives;

namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// A request to a broker cluster nobody serves gets the nats-server's "no responders" and ends at once, naming the cluster;
/// a request forwarded to a node that is down is no error for the broker.
/// </summary>
[Collection(CollectivesCollection.Name)]
public sealed class UnservedClusterTests(CollectivesFixture fixture)
{
    private static FederatedRequest Request(string[] federations, string target, int expected) => new()
    {
        Federations = federations,
        Targets = [target],
        Body = Encoding.UTF8.GetBytes($"unserved-{Guid.NewGuid():N}"),
        ExpectedReplies = expected,

        // Far longer than the test may take: only the no-responders notice can end it in time.
        Timeout = TimeSpan.FromHours(1),
    };

    [Fact]
    public async Task ARequestToAClusterNobodyServes_EndsAtOnce_NamingTheCluster()
    {
        var (client, connection) = await fixture.OpenClientAsync(fixture.Federation);
        await using var _ = connection;
        await using var __ = client;

        var result = await client.RequestAsync(Request(["londn"], CollectiveNode.DirectSubject("london-1"), expected: 1), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(15));

        Assert.False(result.Completed);
        Assert.Empty(result.Replies);
        Assert.Equal(["londn"], result.UnservedFederations);
        Assert.Contains("'londn'", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARequestToANodeThatIsDown_IsNoErrorForTheBroker()
    {
        var broker = await fixture.StartBrokerAsync("unserved_check", fixture.Federation, fixture.Collectives["london"], "unserved-check-broker", ownedByFixture: false);
        await using var ___ = broker;
        var (client, connection) = await fixture.OpenClientAsync(fixture.Federation);
        await using var _ = connection;
        await using var __ = client;

        // london-9 does not exist: its forwarded request reaches nobody, and the broker's reply subscription is a queue
        // subscription, which the server sends no no-responders notice: only london-1's reply arrives, and nothing is an error.
        var request = Request(["unserved_check"], CollectiveNode.DirectSubject("london-9"), expected: 1) with
        {
            Targets = [CollectiveNode.DirectSubject("london-9"), CollectiveNode.DirectSubject("london-1")],
        };
        var result = await client.RequestAsync(request, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(15));

        Assert.True(result.Completed);
        Assert.Empty(result.UnservedFederations);
        Assert.Equal(0, broker.Statistics.Errors);
        Assert.Equal(1, broker.Statistics.RepliesReceived);
    }
}
