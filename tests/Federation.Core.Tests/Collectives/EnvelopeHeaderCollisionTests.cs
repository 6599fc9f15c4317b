using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// Headers of a request or a reply that bear an envelope header's name (black-box finding). The client and the member
/// added their own envelope after the caller's headers, so a caller's <c>Federation-Reply-To</c> (a member that copies the
/// request's headers into its reply, say) made the field appear twice: every broker dropped the message as malformed, and
/// the client waited out its timeout with no reply and no error. Such headers are now refused before anything is sent.
/// </summary>
public sealed class EnvelopeHeaderCollisionTests
{
    [Theory]
    [InlineData("Federation-Reply-To")]
    [InlineData("federation-request-id")]
    [InlineData("Federation-Hops")]
    [InlineData("Federation-Target")]
    [InlineData("Federation-Seen-By")]
    public async Task A_request_whose_own_headers_bear_an_envelope_name_is_refused_before_anything_is_published(string name)
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var client = await testbed.ClientAsync("fed");

        var request = new FederatedRequest
        {
            Federations = ["london"],
            Targets = ["mcollective.broadcast.agent.ping"],
            Body = Encoding.UTF8.GetBytes("ping"),
            Headers = [new("X-Trace", "1"), new(name, "mcollective.reply.x.y")],
            ExpectedReplies = 1,
            Timeout = TimeSpan.FromSeconds(5),
        };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync(request, CancellationToken.None)).WaitAsync(CollectivesTestbed.Deadline);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);

        // Nothing went out: a valid request sent after it on the same connection is the first the broker received (one
        // published before it would have arrived first).
        var answered = await client.RequestAsync(request with { Headers = [new("X-Trace", "1")], Timeout = CollectivesTestbed.Deadline }, CancellationToken.None);
        Assert.True(answered.Completed);
        Assert.Equal(1, broker.Statistics.RequestsReceived);
    }

    [Fact]
    public async Task A_request_with_headers_of_its_own_still_gets_its_replies_with_them_passed_through()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        var nodes = await testbed.StartNodesAsync("london", "mcollective", "web1");
        var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(new FederatedRequest
        {
            Federations = ["london"],
            Targets = ["mcollective.broadcast.agent.ping"],
            Body = Encoding.UTF8.GetBytes("ping"),
            Headers = [new("X-Trace", "1")],
            ExpectedReplies = 1,
            Timeout = CollectivesTestbed.Deadline,
        }, CancellationToken.None);

        Assert.True(result.Completed);
        Assert.Contains(nodes[0].Received.Single().Headers!, h => h.Key == "X-Trace" && h.Value == "1");
    }

    [Theory]
    [InlineData("Federation-Request-Id")]
    [InlineData("FEDERATION-REPLY-TO")]
    [InlineData("Federation-Hops")]
    [InlineData("Federation-Seen-By")]
    public async Task A_reply_whose_own_headers_bear_an_envelope_name_is_refused_before_it_is_published(string name)
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("london", "fed", "london");
        var member = await testbed.ConnectAsync("london", "member");
        var answered = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await member.SubscribeAsync("mcollective.broadcast.agent.ping", null, async (request, token) =>
        {
            try
            {
                // A member that answers with the request's own headers, envelope included.
                await member.ReplyAsync(request, Encoding.UTF8.GetBytes("pong"), [new(name, "x")], token);
                answered.TrySetResult(null);
            }
            catch (ArgumentException error)
            {
                answered.TrySetResult(error);
            }

            // Then a valid reply, after it on the same connection: the one the client waits for.
            await member.ReplyAsync(request, Encoding.UTF8.GetBytes("pong"), [new("X-Member", "1")], token);
        }, CancellationToken.None);
        var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(new FederatedRequest
        {
            Federations = ["london"],
            Targets = ["mcollective.broadcast.agent.ping"],
            Body = Encoding.UTF8.GetBytes("ping"),
            ExpectedReplies = 1,
            Timeout = CollectivesTestbed.Deadline,
        }, CancellationToken.None);

        var error = await answered.Task.WaitAsync(CollectivesTestbed.Deadline);
        Assert.NotNull(error);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);

        // Nothing went out: the valid reply, relayed to the client, is the only one the broker received (one published
        // before it would have arrived first).
        Assert.True(result.Completed);
        Assert.Equal(1, broker.Statistics.RepliesReceived);
    }
}
