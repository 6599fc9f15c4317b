using System.Text;
using Federation.Core.Collectives;

namespace Federation.Core.Tests.Collectives;

/// <summary>The client's one wildcard reply inbox: concurrent requests share it and each gets only its own replies.</summary>
public sealed class FederatedClientInboxTests
{
    private static readonly string[] Both = ["web1@london", "web2@london"];
    private static readonly string[] Web1 = ["web1@london"];
    private static readonly string[] Web2 = ["web2@london"];

    private static FederatedRequest Ping(string target, int expected) => new()
    {
        Federations = ["london"],
        Targets = [target],
        Body = Encoding.UTF8.GetBytes("ping"),
        Timeout = CollectivesTestbed.Deadline,
        ExpectedReplies = expected,
    };

    [Fact]
    public async Task Concurrent_requests_each_get_their_own_replies_only()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1", "web2");
        await using var client = await testbed.ClientAsync("fed");

        // Broadcasts expect both nodes; directed requests expect one. Replies matched to the wrong request would show up
        // as a third reply or as the other node's name.
        var requests = Enumerable.Range(0, 12).Select(i => (i % 3) switch
        {
            0 => (Request: Ping("mcollective.broadcast.agent.ping", 2), Expected: Both),
            1 => (Request: Ping("mcollective.node.web1", 1), Expected: Web1),
            _ => (Request: Ping("mcollective.node.web2", 1), Expected: Web2),
        }).ToList();

        var results = await Task.WhenAll(requests.Select(r => client.RequestAsync(r.Request, CancellationToken.None)));

        Assert.Equal(results.Length, results.Select(r => r.RequestId).Distinct().Count());
        for (var i = 0; i < results.Length; i++)
        {
            Assert.True(results[i].Completed);
            Assert.Equal(requests[i].Expected, results[i].Replies.Select(CollectivesTestbed.Text).Order());
        }
    }

    [Fact]
    public async Task A_disposed_client_refuses_requests()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var client = await testbed.ClientAsync("fed");
        Assert.True((await client.RequestAsync(Ping("mcollective.node.web1", 1), CancellationToken.None)).Completed);

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.RequestAsync(Ping("mcollective.node.web1", 1), CancellationToken.None));
    }
}
