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
    public async Task A_reply_after_its_request_returned_is_dropped_and_counted_as_late()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        var slow = await testbed.ConnectAsync("london", "slow node");
        var requestReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await slow.SubscribeAsync("mcollective.node.slow", null, async (request, token) =>
        {
            // Answers only once the client has given up on the request, so the reply is late by construction.
            await requestReturned.Task.WaitAsync(token);
            await slow.ReplyAsync(request, Encoding.UTF8.GetBytes("too late"), null, token);
        }, CancellationToken.None);
        await using var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(Ping("mcollective.node.slow", 1) with { Timeout = TimeSpan.FromMilliseconds(200) }, CancellationToken.None);
        Assert.False(result.Completed);
        Assert.Empty(result.Replies);
        Assert.Equal(0, client.LateReplies);

        requestReturned.SetResult();
        await CollectivesTestbed.WaitUntilAsync(() => client.LateReplies == 1, "the late reply is counted");

        // The next request is not disturbed by the late one: its own reply, nothing else.
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var next = await client.RequestAsync(Ping("mcollective.node.web1", 1), CancellationToken.None);
        Assert.Equal(Web1, next.Replies.Select(CollectivesTestbed.Text));
        Assert.Equal(1, client.LateReplies);
    }

    [Fact]
    public async Task A_node_that_replies_in_a_loop_fills_the_request_up_to_MaxReplies_and_the_rest_is_counted_not_kept()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        var looping = await testbed.ConnectAsync("london", "looping node");
        await looping.SubscribeAsync("mcollective.node.loop", null, async (request, token) =>
        {
            for (var i = 0; i < 50; i++)
            {
                await looping.ReplyAsync(request, Encoding.UTF8.GetBytes($"reply {i}"), null, token);
            }
        }, CancellationToken.None);
        await using var client = await testbed.ClientAsync("fed");

        // No expected count and a timeout far longer than the test may take: without the cap the client would keep every
        // reply and wait the whole hour; with it, the wait ends at the cap.
        var request = Ping("mcollective.node.loop", 1) with { ExpectedReplies = null, MaxReplies = 10, Timeout = TimeSpan.FromHours(1) };
        var result = await client.RequestAsync(request, CancellationToken.None).WaitAsync(CollectivesTestbed.Deadline);

        Assert.Equal(10, result.Replies.Count);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"reply {i}"), result.Replies.Select(CollectivesTestbed.Text));
        Assert.False(result.Completed);
        await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync(Ping("mcollective.node.loop", 1) with { MaxReplies = 0 }, CancellationToken.None));
    }

    [Fact]
    public async Task A_timeout_longer_than_a_timer_waits_is_refused_naming_it_and_the_longest_one_works()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        await using var client = await testbed.ClientAsync("fed");

        // Before, such a timeout passed validation, the request went out, and the wait threw ArgumentOutOfRangeException.
        foreach (var timeout in new[] { TimeSpan.MaxValue, FederatedRequest.MaxTimeout + TimeSpan.FromMilliseconds(1) })
        {
            var error = await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync(Ping("mcollective.node.web1", 1) with { Timeout = timeout }, CancellationToken.None));
            Assert.StartsWith($"Timeout: '{timeout}' must be from 0 to {FederatedRequest.MaxTimeout}", error.Message, StringComparison.Ordinal);
        }

        var result = await client.RequestAsync(Ping("mcollective.node.web1", 1) with { Timeout = FederatedRequest.MaxTimeout }, CancellationToken.None).WaitAsync(CollectivesTestbed.Deadline);
        Assert.True(result.Completed);
        Assert.Equal(Web1, result.Replies.Select(CollectivesTestbed.Text));
    }

    [Fact]
    public async Task Replies_over_the_cap_are_counted_and_not_kept()
    {
        var gatherer = new ReplyGatherer(expected: null, max: 10);
        for (var i = 0; i < 15; i++)
        {
            await gatherer.AddAsync(new Federation.Core.Transport.Messaging.SubjectMessage("r", Encoding.UTF8.GetBytes($"{i}")), CancellationToken.None);
        }

        Assert.Equal(10, gatherer.Snapshot().Count);
        Assert.Equal(5, gatherer.Dropped);
        Assert.False(await gatherer.WaitAsync(TimeSpan.FromHours(1), TimeProvider.System, CancellationToken.None));
    }

    [Fact]
    public async Task Replies_past_the_byte_cap_are_counted_and_not_kept_and_end_the_wait()
    {
        // 100 bytes each (90 of body, "k" + 9 characters of header): two fit in 250, the third would go past it.
        var gatherer = new ReplyGatherer(expected: null, max: 1_000, maxBytes: 250);
        for (var i = 0; i < 5; i++)
        {
            await gatherer.AddAsync(new Federation.Core.Transport.Messaging.SubjectMessage("r", new byte[90], [new("k", $"value-{i:D3}")]), CancellationToken.None);
        }

        Assert.Equal(2, gatherer.Snapshot().Count);
        Assert.Equal(3, gatherer.Dropped);
        Assert.False(await gatherer.WaitAsync(TimeSpan.FromHours(1), TimeProvider.System, CancellationToken.None));
    }

    [Fact]
    public async Task A_node_that_answers_with_huge_replies_fills_the_request_up_to_MaxReplyBytes_only()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        var flooding = await testbed.ConnectAsync("london", "flooding node");
        await flooding.SubscribeAsync("mcollective.node.big", null, async (request, token) =>
        {
            for (var i = 0; i < 20; i++)
            {
                await flooding.ReplyAsync(request, new byte[64 * 1024], null, token);
            }
        }, CancellationToken.None);
        await using var client = await testbed.ClientAsync("fed");

        // No expected count and an hour's timeout: the byte cap, not the count or the clock, ends the wait.
        var request = Ping("mcollective.node.big", 1) with { ExpectedReplies = null, MaxReplyBytes = 200 * 1024, Timeout = TimeSpan.FromHours(1) };
        var result = await client.RequestAsync(request, CancellationToken.None).WaitAsync(CollectivesTestbed.Deadline);

        Assert.InRange(result.Replies.Sum(r => (long)r.Body.Length), 3 * 64 * 1024, 200 * 1024);
        Assert.True(result.RepliesDropped >= 1);
        Assert.False(result.Completed);
        await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync(Ping("mcollective.node.big", 1) with { MaxReplyBytes = 0 }, CancellationToken.None));
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
