using System.Text;
using Federation.Core.Collectives;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A request to a broker cluster that no instance serves ends at once and says which cluster, instead of waiting out its
/// timeout with nothing to show (the in-memory bus reports "no responders" as a NATS server does).
/// </summary>
public sealed class UnservedClusterTests
{
    private static FederatedRequest Ping(params string[] federations) => new()
    {
        Federations = federations,
        Targets = ["mcollective.node.web1"],
        Body = Encoding.UTF8.GetBytes("ping"),
        ExpectedReplies = 1,

        // Far longer than the test may take: only the no-responders notice can end it in time.
        Timeout = TimeSpan.FromHours(1),
    };

    [Fact]
    public async Task A_request_to_a_cluster_nobody_serves_ends_at_once_naming_the_cluster()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        await using var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(Ping("londn"), CancellationToken.None).WaitAsync(CollectivesTestbed.Deadline);

        Assert.False(result.Completed);
        Assert.Empty(result.Replies);
        Assert.Equal(["londn"], result.UnservedFederations);
        Assert.Contains("'londn'", result.Reason, StringComparison.Ordinal);
        Assert.Contains("choria.federation.londn.federation", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_served_cluster_still_answers_and_only_the_unserved_one_is_named()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        await using var client = await testbed.ClientAsync("fed");

        // Tokyo first: its notice is in the client's inbox before London's request is even published, so before the reply.
        var result = await client.RequestAsync(Ping("tokyo", "london"), CancellationToken.None).WaitAsync(CollectivesTestbed.Deadline);

        Assert.True(result.Completed);
        Assert.Equal(["web1@london"], result.Replies.Select(CollectivesTestbed.Text));
        Assert.Equal(["tokyo"], result.UnservedFederations);
        Assert.Null(new FederatedReplies("id", 0, [], false).Reason);
    }

    [Fact]
    public async Task A_request_to_a_target_nobody_subscribes_is_no_error_for_the_broker()
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        await using var client = await testbed.ClientAsync("fed");

        // web2 is down: the collective's no-responders notice comes back on the broker's reply subject, and is no reply.
        var result = await client.RequestAsync(Ping("london") with { Targets = ["mcollective.node.web2", "mcollective.node.web1"] }, CancellationToken.None)
            .WaitAsync(CollectivesTestbed.Deadline);

        Assert.True(result.Completed);
        Assert.Empty(result.UnservedFederations);
        Assert.Equal(0, broker.Statistics.Errors);
    }
}
