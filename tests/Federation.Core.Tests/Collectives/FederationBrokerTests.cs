using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Tests.Support;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>The federation broker on the in-memory bus: routing, isolation, membership, scale-out and hardening.</summary>
public sealed class FederationBrokerTests
{
    private static FederatedRequest Ping(string[] federations, params string[] targets) => new()
    {
        Federations = federations,
        Targets = targets,
        Body = Encoding.UTF8.GetBytes("ping"),
        Timeout = CollectivesTestbed.Deadline,
    };

    [Fact]
    public async Task A_federated_request_reaches_the_nodes_and_their_replies_come_back_unfederated()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        var nodes = await testbed.StartNodesAsync("london", "mcollective", "web1", "web2");
        var client = await testbed.ClientAsync("fed", new FederatedClientOptions { Identity = "bastion" });

        var result = await client.RequestAsync(Ping(["london"], "mcollective.broadcast.agent.ping") with { ExpectedReplies = 2 }, CancellationToken.None);

        Assert.True(result.Completed);
        Assert.Equal(1, result.MessagesPublished);
        Assert.Equal(2, result.Replies.Count);
        Assert.Equal(["web1@london", "web2@london"], result.Replies.Select(CollectivesTestbed.Text).Order());

        // The node saw an ordinary request whose reply subject is the cluster's collective subject, with the envelope.
        var request = Assert.Single(nodes[0].Received);
        Assert.Equal("mcollective.broadcast.agent.ping", request.Subject);
        Assert.Equal("choria.federation.london.collective", request.ReplyTo);
        Assert.Equal(result.RequestId, FederatedMessages.GetRequestId(request));
        Assert.DoesNotContain(request.Headers!, h => h.Key == FederationHeaders.Target);
        Assert.Equal("1", request.Headers!.Single(h => h.Key == FederationHeaders.Hops).Value);
        Assert.StartsWith("federation.reply.", request.Headers!.Single(h => h.Key == FederationHeaders.ReplyTo).Value, StringComparison.Ordinal);

        // The reply looks unfederated except for the seen-by trail: client hop, request pass, reply pass.
        var reply = result.Replies[0];
        Assert.Null(FederatedMessages.GetRequestId(reply));
        Assert.DoesNotContain(reply.Headers!, h => h.Key is FederationHeaders.ReplyTo or FederationHeaders.Hops or FederationHeaders.Target);
        Assert.Contains(reply.Headers!, h => h.Key == "X-Node");
        Assert.Equal(
            [new SeenByHop("memory://fed", "bastion", "memory://fed"), new SeenByHop("memory://fed", "london-1", "memory://london"), new SeenByHop("memory://london", "london-1", "memory://fed")],
            FederatedMessages.GetSeenBy(reply));
    }

    [Fact]
    public async Task The_payload_bytes_are_unchanged_end_to_end()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        var body = Enumerable.Range(0, 4096).Select(i => (byte)(i * 31)).ToArray();
        var member = await testbed.ConnectAsync("london", "echo");
        SubjectMessage? seen = null;
        await member.SubscribeAsync("mcollective.node.echo", null, async (request, token) =>
        {
            seen = request with { Body = request.Body.ToArray() };
            await member.ReplyAsync(request, request.Body, null, token);
        }, CancellationToken.None);
        var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(new FederatedRequest
        {
            Federations = ["london"],
            Targets = ["mcollective.node.echo"],
            Body = body,
            Headers = [new("Signature", "abc")],
            ExpectedReplies = 1,
            Timeout = CollectivesTestbed.Deadline,
        }, CancellationToken.None);

        Assert.True(result.Completed);
        Assert.Equal(body, seen!.Body.ToArray());
        Assert.Equal("abc", seen.Headers!.Single(h => h.Key == "Signature").Value);
        Assert.Equal(body, Assert.Single(result.Replies).Body.ToArray());
    }

    [Fact]
    public async Task Collectives_are_isolated_and_the_federation_reaches_all_of_them()
    {
        await using var testbed = new CollectivesTestbed();
        string[] collectives = ["london", "tokyo", "newyork"];
        var nodes = new Dictionary<string, List<CollectiveNode>>();
        foreach (var collective in collectives)
        {
            await testbed.StartBrokerAsync(collective, "fed", collective);
            nodes[collective] = await testbed.StartNodesAsync(collective, "mcollective", $"{collective}-a", $"{collective}-b");
        }

        var client = await testbed.ClientAsync("fed");
        var all = await client.RequestAsync(Ping(collectives, "mcollective.broadcast.agent.ping") with { ExpectedReplies = 6 }, CancellationToken.None);
        Assert.True(all.Completed);
        Assert.Equal(collectives.SelectMany(c => new[] { $"{c}-a@{c}", $"{c}-b@{c}" }).Order(), all.Replies.Select(CollectivesTestbed.Text).Order());

        // A node in london publishing on its own collective cannot reach tokyo's nodes: not by broadcast, not through
        // the reply path, not by naming tokyo's federation subject.
        var london = await testbed.ConnectAsync("london", "intruder");
        await london.PublishAsync(new SubjectMessage("mcollective.broadcast.agent.ping", Encoding.UTF8.GetBytes("x"), null, "mcollective.reply.intruder"), CancellationToken.None);
        await london.PublishAsync(new SubjectMessage("choria.federation.tokyo.federation", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "mcollective.reply.x"), new(FederationHeaders.Target, "mcollective.broadcast.agent.ping")]), CancellationToken.None);
        await london.PublishAsync(new SubjectMessage("choria.federation.london.collective", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r2"), new(FederationHeaders.ReplyTo, "choria.federation.tokyo.federation"), new(FederationHeaders.Target, "mcollective.broadcast.agent.ping")]), CancellationToken.None);

        // The federation then reaches tokyo alone; every tokyo node has seen exactly the two federated requests.
        var tokyoOnly = await client.RequestAsync(Ping(["tokyo"], "mcollective.broadcast.agent.ping") with { ExpectedReplies = 2 }, CancellationToken.None);
        Assert.Equal(["tokyo-a@tokyo", "tokyo-b@tokyo"], tokyoOnly.Replies.Select(CollectivesTestbed.Text).Order());
        Assert.All(nodes["tokyo"], n => Assert.Equal(2, n.Received.Count));
        Assert.All(nodes["newyork"], n => Assert.Single(n.Received));
        // The intruder's local broadcast is delivered asynchronously on london's bus: wait for it, then count exactly.
        await Federation.Core.Tests.Engine.Testbed.Eventually(
            () => nodes["london"].All(n => n.Received.Count >= 2),
            () => $"london nodes received {string.Join(", ", nodes["london"].Select(n => n.Received.Count))}");
        Assert.All(nodes["london"], n => Assert.Equal(2, n.Received.Count)); // the federated one and the intruder's local broadcast
    }

    [Fact]
    public async Task A_collective_in_two_federations_answers_each_through_its_own_broker_cluster()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london_emea", "fed-emea", "london");
        await testbed.StartBrokerAsync("london_global", "fed-global", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var emea = await testbed.ClientAsync("fed-emea");
        var global = await testbed.ClientAsync("fed-global");

        var viaEmea = await emea.RequestAsync(Ping(["london_emea"], "mcollective.node.web1") with { ExpectedReplies = 1 }, CancellationToken.None);
        var viaGlobal = await global.RequestAsync(Ping(["london_global"], "mcollective.node.web1") with { ExpectedReplies = 1 }, CancellationToken.None);
        // A federation cannot use a cluster that is not attached to it.
        var wrong = await emea.RequestAsync(Ping(["london_global"], "mcollective.node.web1") with { Timeout = TimeSpan.FromMilliseconds(200) }, CancellationToken.None);

        Assert.Equal("web1@london", CollectivesTestbed.Text(Assert.Single(viaEmea.Replies)));
        Assert.Equal("london_emea", FederatedMessages.GetSeenBy(viaEmea.Replies[0])[1].Processor.Split('-')[0]);
        Assert.Equal("web1@london", CollectivesTestbed.Text(Assert.Single(viaGlobal.Replies)));
        Assert.Equal("london_global", FederatedMessages.GetSeenBy(viaGlobal.Replies[0])[1].Processor.Split('-')[0]);
        Assert.Empty(wrong.Replies);
        Assert.False(wrong.Completed);
    }

    [Fact]
    public async Task Three_instances_share_the_work_and_replies_complete_after_one_stops()
    {
        await using var testbed = new CollectivesTestbed();
        var instances = new List<FederationBroker>();
        for (var i = 1; i <= 3; i++)
        {
            instances.Add(await testbed.StartBrokerAsync("london", "fed", "london", $"london-{i}"));
        }

        await testbed.StartNodesAsync("london", "mcollective", "web1", "web2", "web3");
        var client = await testbed.ClientAsync("fed");
        var completed = 0;
        for (var request = 0; request < 30; request++)
        {
            if (request == 10)
            {
                Assert.All(instances, b => Assert.True(b.Statistics.RequestsReceived > 0 && b.Statistics.RepliesReceived > 0, $"{b.InstanceName} handled work"));
                await instances[0].StopAsync(CancellationToken.None);
            }

            var result = await client.RequestAsync(Ping(["london"], "mcollective.broadcast.agent.ping") with { ExpectedReplies = 3 }, CancellationToken.None);
            Assert.True(result.Completed, $"request {request} got {result.Replies.Count} replies");
            completed++;
        }

        Assert.Equal(30, completed);
        var stoppedAt = instances[0].Statistics;
        Assert.Equal(30, instances.Sum(b => b.Statistics.RequestsReceived));
        Assert.Equal(90, instances.Sum(b => b.Statistics.RepliesReceived));
        Assert.True(instances[1].Statistics.RequestsReceived + instances[2].Statistics.RequestsReceived >= 20);
        Assert.Equal(0, instances.Sum(b => b.Statistics.Errors));
        Assert.Equal(stoppedAt, instances[0].Statistics);
        Assert.False(instances[0].IsConnected);
    }

    [Theory]
    [InlineData("choria.federation.tokyo.federation", BrokerErrorTypes.TargetRejected)]
    [InlineData("choria.federation.london.collective", BrokerErrorTypes.TargetRejected)]
    [InlineData("mcollective.reply.someone.1", BrokerErrorTypes.TargetRejected)]
    [InlineData("mcollective.broadcast.agent.>", BrokerErrorTypes.TargetRejected)]
    [InlineData("mcollective.node.*", BrokerErrorTypes.TargetRejected)]
    [InlineData("_INBOX.abc", BrokerErrorTypes.TargetRejected)]
    public async Task Requests_to_subjects_outside_the_whitelist_are_rejected_and_counted(string target, string errorType)
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("escape");
        var broker = await testbed.StartBrokerAsync("escape", "fed", "london");
        var nodes = await testbed.StartNodesAsync("london", "mcollective", "web1");
        var federation = await testbed.ConnectAsync("fed");

        // A valid target alongside the bad one: the whole message is dropped.
        await federation.PublishAsync(new SubjectMessage("choria.federation.escape.federation", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"),
             new(FederationHeaders.Target, "mcollective.node.web1"), new(FederationHeaders.Target, target)]), CancellationToken.None);

        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1, "the error was counted");
        Assert.Equal(0, broker.Statistics.Published);
        Assert.Empty(nodes[0].Received);
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", errorType), ("federation.broker.direction", "request")));
    }

    [Fact]
    public async Task Subjects_longer_than_the_limit_are_rejected_before_they_reach_the_transport()
    {
        // nats-server drops a client whose protocol line is over 4 KiB: one such target would cut the broker off.
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("long");
        var broker = await testbed.StartBrokerAsync("long", "fed", "london");
        var nodes = await testbed.StartNodesAsync("london", "mcollective", "web1");
        var federation = await testbed.ConnectAsync("fed");
        var longTarget = "mcollective.node." + new string('a', 5000);
        var longReply = "client.reply." + new string('r', 5000);

        await federation.PublishAsync(new SubjectMessage("choria.federation.long.federation", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"),
             new(FederationHeaders.Target, "mcollective.node.web1"), new(FederationHeaders.Target, longTarget)]), CancellationToken.None);
        await federation.PublishAsync(new SubjectMessage("choria.federation.long.federation", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r2"), new(FederationHeaders.ReplyTo, longReply),
             new(FederationHeaders.Target, "mcollective.node.web1")]), CancellationToken.None);

        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 2, "both were rejected");
        Assert.Equal(0, broker.Statistics.Published);
        Assert.Empty(nodes[0].Received);
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.TargetRejected)));
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.ReplyRejected)));
    }

    [Theory]
    [InlineData("choria.federation.tokyo.federation")]
    [InlineData("mcollective.node.web1")]
    [InlineData("mcollective.reply.>")]
    public async Task Replies_to_subjects_that_are_not_reply_subjects_are_rejected_both_ways(string replyTo)
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("replyguard", "fed", "london");
        var federation = await testbed.ConnectAsync("fed");
        var collective = await testbed.ConnectAsync("london");

        await federation.PublishAsync(new SubjectMessage("choria.federation.replyguard.federation", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, replyTo), new(FederationHeaders.Target, "mcollective.node.web1")]), CancellationToken.None);
        await collective.PublishAsync(new SubjectMessage("choria.federation.replyguard.collective", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, replyTo)]), CancellationToken.None);

        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 2, "both rejected");
        Assert.Equal(0, broker.Statistics.Published);
    }

    [Fact]
    public async Task The_hop_limit_stops_messages_that_passed_too_many_brokers()
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("hops");
        var broker = await testbed.StartBrokerAsync("hops", "fed", "london", configure: o => o.MaxHops = 3);
        var nodes = await testbed.StartNodesAsync("london", "mcollective", "web1");
        var federation = await testbed.ConnectAsync("fed");
        SubjectMessage Request(int hops) => new("choria.federation.hops.federation", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, $"r{hops}"), new(FederationHeaders.ReplyTo, "client.reply.r"), new(FederationHeaders.Target, "mcollective.node.web1"), new(FederationHeaders.Hops, $"{hops}")]);

        await federation.PublishAsync(Request(3), CancellationToken.None);
        await federation.PublishAsync(Request(1), CancellationToken.None);

        // The node answers the accepted request with hops 2; its reply has passed 2 < 3 brokers and is routed back.
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Published == 2, "the accepted request and its reply were forwarded");
        var request = Assert.Single(nodes[0].Received);
        Assert.Equal("r1", FederatedMessages.GetRequestId(request));
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.HopLimit)));
    }

    [Fact]
    public async Task A_trail_of_twice_the_hop_limit_stops_a_message_whose_hop_count_was_reset()
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("trail");
        var broker = await testbed.StartBrokerAsync("trail", "fed", "london", configure: o => o.MaxHops = 3);
        var nodes = await testbed.StartNodesAsync("london", "mcollective", "web1");
        var federation = await testbed.ConnectAsync("fed");

        // Hops 0, as from a member that republished the message with headers of its own, but the trail of a loop: six
        // entries (2 x MaxHops) are refused. Four go through, and so does the reply, whose trail has the request's pass too.
        SubjectMessage Request(string id, int trail) => new("choria.federation.trail.federation", Encoding.UTF8.GetBytes("x"),
            [
                new(FederationHeaders.RequestId, id), new(FederationHeaders.ReplyTo, "client.reply.r"), new(FederationHeaders.Target, "mcollective.node.web1"),
                .. Enumerable.Range(0, trail).Select(i => new KeyValuePair<string, string>(FederationHeaders.SeenBy, new SeenByHop($"nats://a{i}:4222", $"trail-{i}", $"nats://b{i}:4222").Format())),
            ]);

        await federation.PublishAsync(Request("looped", 6), CancellationToken.None);
        await federation.PublishAsync(Request("long", 4), CancellationToken.None);

        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Published == 2, "the long request and its reply were forwarded");
        Assert.Equal("long", FederatedMessages.GetRequestId(Assert.Single(nodes[0].Received)));
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.HopLimit)));
    }

    [Fact]
    public async Task A_hop_limit_set_out_of_the_way_lets_requests_and_replies_through()
    {
        // 2 x MaxHops, the trail limit, was an int: above int.MaxValue / 2 it was negative and every message a hop_limit.
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("nolimit");
        await testbed.StartBrokerAsync("nolimit", "fed", "london", configure: o => o.MaxHops = int.MaxValue);
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(Ping(["nolimit"], "mcollective.node.web1") with { ExpectedReplies = 1 }, CancellationToken.None);

        Assert.True(result.Completed, $"{metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.HopLimit))} hop_limit error(s)");
        Assert.Equal(0, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.HopLimit)));
    }

    [Theory]
    [InlineData("no envelope")]
    [InlineData("no targets")]
    [InlineData("no reply")]
    [InlineData("two request ids")]
    [InlineData("bad hops")]
    public async Task Malformed_envelopes_are_counted_as_errors_and_never_break_the_broker(string defect)
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("malformed");
        var broker = await testbed.StartBrokerAsync("malformed", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var federation = await testbed.ConnectAsync("fed");
        List<KeyValuePair<string, string>> headers = defect switch
        {
            "no envelope" => [],
            "no targets" => [new(FederationHeaders.RequestId, "r"), new(FederationHeaders.ReplyTo, "client.reply.r")],
            "no reply" => [new(FederationHeaders.RequestId, "r"), new(FederationHeaders.Target, "mcollective.node.web1")],
            "two request ids" => [new(FederationHeaders.RequestId, "r"), new(FederationHeaders.RequestId, "s"), new(FederationHeaders.ReplyTo, "client.reply.r"), new(FederationHeaders.Target, "mcollective.node.web1")],
            _ => [new(FederationHeaders.RequestId, "r"), new(FederationHeaders.ReplyTo, "client.reply.r"), new(FederationHeaders.Target, "mcollective.node.web1"), new(FederationHeaders.Hops, "-1")],
        };

        await federation.PublishAsync(new SubjectMessage("choria.federation.malformed.federation", Encoding.UTF8.GetBytes("x"), headers), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1, "the error was counted");

        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.Malformed)));
        Assert.Equal(0, testbed.Registry.GetOrAdd("fed").HandlerFailures);
        var client = await testbed.ClientAsync("fed");
        var after = await client.RequestAsync(Ping(["malformed"], "mcollective.node.web1") with { ExpectedReplies = 1 }, CancellationToken.None);
        Assert.True(after.Completed); // still working
    }

    [Fact]
    public async Task Targets_are_chunked_per_message_and_fanned_out_by_the_broker()
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("london", "fed", "london");
        var identities = Enumerable.Range(0, 450).Select(i => $"n{i}").ToArray();
        var responders = await testbed.ConnectAsync("london", "responders");
        await responders.SubscribeAsync("mcollective.node.*", null, (request, token) => responders.ReplyAsync(request, Encoding.UTF8.GetBytes(request.Subject), null, token), CancellationToken.None);
        var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(Ping(["london"], identities.Select(i => $"mcollective.node.{i}").ToArray()) with { ExpectedReplies = 450 }, CancellationToken.None);

        Assert.True(result.Completed);
        Assert.Equal(3, result.MessagesPublished); // 200 + 200 + 50
        Assert.Equal(3, broker.Statistics.RequestsReceived);
        Assert.Equal(450 + 450, broker.Statistics.Published); // one per target, one per reply
        Assert.Equal(identities.Select(i => $"mcollective.node.{i}").Order(), result.Replies.Select(CollectivesTestbed.Text).Order());
    }

    [Fact]
    public async Task Chunk_size_is_configurable_and_every_federation_gets_every_chunk()
    {
        await using var testbed = new CollectivesTestbed();
        var federation = await testbed.ConnectAsync("fed", "spy");
        var seen = new System.Collections.Concurrent.ConcurrentQueue<SubjectMessage>();
        await federation.SubscribeAsync("choria.federation.*.federation", null, (m, _) => { seen.Enqueue(m); return ValueTask.CompletedTask; }, CancellationToken.None);
        var client = await testbed.ClientAsync("fed", new FederatedClientOptions { TargetsPerMessage = 2 });

        var result = await client.RequestAsync(Ping(["a", "b"], "c.node.1", "c.node.2", "c.node.3") with { ExpectedReplies = 0 }, CancellationToken.None);

        Assert.Equal(4, result.MessagesPublished);
        await CollectivesTestbed.WaitUntilAsync(() => seen.Count == 4, "4 chunks seen");
        Assert.Equal([2, 1, 2, 1], seen.OrderBy(m => m.Subject, StringComparer.Ordinal).Select(m => m.Headers!.Count(h => h.Key == FederationHeaders.Target)));
        Assert.Equal(2, seen.Count(m => m.Subject == "choria.federation.a.federation"));
    }

    [Fact]
    public async Task Metrics_carry_cluster_direction_instance_and_side()
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("metered");
        await testbed.StartBrokerAsync("metered", "fed", "london", "metered-7");
        await testbed.StartNodesAsync("london", "mcollective", "web1", "web2");
        var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(Ping(["metered"], "mcollective.broadcast.agent.ping") with { ExpectedReplies = 2 }, CancellationToken.None);
        Assert.True(result.Completed);

        var instance = ("federation.broker.instance", "metered-7");
        Assert.Equal(1, metrics.Sum("federation.broker.messages.received", instance, ("federation.broker.direction", "request"), ("federation.broker.connected_to", "federation")));
        Assert.Equal(1, metrics.Sum("federation.broker.messages.published", instance, ("federation.broker.direction", "request"), ("federation.broker.connected_to", "collective")));
        Assert.Equal(2, metrics.Sum("federation.broker.messages.received", instance, ("federation.broker.direction", "reply"), ("federation.broker.connected_to", "collective")));
        Assert.Equal(2, metrics.Sum("federation.broker.messages.published", instance, ("federation.broker.direction", "reply"), ("federation.broker.connected_to", "federation")));
        Assert.Equal(3, metrics.Count("federation.broker.processing.duration", instance));
        Assert.Equal(0, metrics.Sum("federation.broker.errors"));
    }

    [Fact]
    public async Task A_broker_reconnects_after_its_collective_server_comes_back()
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("london", "fed", "london");
        var server = testbed.Registry.GetOrAdd("london");

        server.Stop();
        await CollectivesTestbed.WaitUntilAsync(() => !broker.IsConnected, "the broker noticed");
        server.Start();
        await CollectivesTestbed.WaitUntilAsync(() => broker.IsConnected, "the broker reconnected");
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var client = await testbed.ClientAsync("fed");

        var result = await client.RequestAsync(Ping(["london"], "mcollective.node.web1") with { ExpectedReplies = 1 }, CancellationToken.None);
        Assert.True(result.Completed);
    }

    [Fact]
    public async Task A_failed_publish_is_counted_and_the_broker_goes_on()
    {
        await using var testbed = new CollectivesTestbed();
        using var metrics = new BrokerMetricsRecorder("lossy");
        var failing = new PublishFailingTransport(testbed.Transport, failOnSubject: "mcollective.node.broken");
        testbed.Registry.GetOrAdd("fed");
        testbed.Registry.GetOrAdd("london");
        var broker = new FederationBroker(new FederationBrokerOptions
        {
            ClusterName = "lossy", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "lossy-1",
        }, [failing], testbed.Telemetry);
        await using (broker)
        {
            await broker.StartAsync(CancellationToken.None);
            await testbed.StartNodesAsync("london", "mcollective", "web1");
            var client = await testbed.ClientAsync("fed");

            var result = await client.RequestAsync(Ping(["lossy"], "mcollective.node.broken", "mcollective.node.web1") with { ExpectedReplies = 1 }, CancellationToken.None);

            Assert.True(result.Completed);
            Assert.Equal("web1@london", CollectivesTestbed.Text(Assert.Single(result.Replies)));
            await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Published == 2, "the reply was forwarded");
            Assert.Equal(1, broker.Statistics.Errors);
            Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.PublishFailed), ("federation.broker.connected_to", "collective")));
        }
    }

    [Fact]
    public async Task A_rejected_subject_with_line_breaks_cannot_forge_log_lines()
    {
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        testbed.Registry.GetOrAdd("fed");
        testbed.Registry.GetOrAdd("london");
        var broker = new FederationBroker(new FederationBrokerOptions
        {
            ClusterName = "forgery", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "forgery-1",
        }, [testbed.Transport], testbed.Telemetry, loggerFactory);
        await using (broker)
        {
            await broker.StartAsync(CancellationToken.None);
            var federation = await testbed.ConnectAsync("fed");

            await federation.PublishAsync(new SubjectMessage("choria.federation.forgery.federation", Encoding.UTF8.GetBytes("x"),
                [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"),
                 // No CR or LF: no transport carries them in a header value (SubjectHeaderRules). NEL (U+0085) is a line break
                 // to many log viewers, and ESC starts a terminal control sequence.
                 new(FederationHeaders.Target, "mcollective.node.x\u0085info: forged line\u001b[2K")]), CancellationToken.None);

            // Counted, then logged: wait for the log line itself (a CI run read the logs between the two).
            await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1 && logs.WithId(4005).Count > 0, "the request was rejected and logged");
            var rejected = Assert.Single(logs.WithId(4005)).Message;
            Assert.DoesNotContain('\u0085', rejected);
            Assert.DoesNotContain('\u001b', rejected);
            Assert.Contains("mcollective.node.x\\u0085info: forged line\\u001B[2K", rejected, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Failed_publishes_are_all_counted_but_logged_at_most_once_per_interval()
    {
        // While a collective server is down every target of every request fails: one warning each would flood the log.
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        var time = new FakeTimeProvider();
        var failing = new PublishFailingTransport(testbed.Transport, failOnSubject: "mcollective.node.broken");
        testbed.Registry.GetOrAdd("fed");
        testbed.Registry.GetOrAdd("london");
        var broker = new FederationBroker(new FederationBrokerOptions
        {
            ClusterName = "lossy", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "lossy-1",
        }, [failing], testbed.Telemetry, loggerFactory, time);
        await using (broker)
        {
            await broker.StartAsync(CancellationToken.None);
            var federation = await testbed.ConnectAsync("fed");
            SubjectMessage Request(string id, int targets) => new("choria.federation.lossy.federation", Encoding.UTF8.GetBytes("x"),
                [new(FederationHeaders.RequestId, id), new(FederationHeaders.ReplyTo, $"client.reply.{id}"),
                 .. Enumerable.Range(0, targets).Select(i => new KeyValuePair<string, string>(FederationHeaders.Target, $"mcollective.node.broken{i}"))]);

            await federation.PublishAsync(Request("r1", 500), CancellationToken.None);
            await federation.PublishAsync(Request("r2", 500), CancellationToken.None);
            await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1000, "every failed publish was counted");
            Assert.Single(logs.WithId(4006));

            // The interval's end tells what it left out, without waiting for a next failure (there may be none).
            time.Advance(RelayOutcomes.Interval);
            var summary = Assert.Single(logs.WithId(4011));
            Assert.Equal(LogLevel.Warning, summary.Level);
            Assert.Contains("failed to publish 999 more message(s)", summary.Message, StringComparison.Ordinal);

            // An outage that goes on: one line per interval.
            await federation.PublishAsync(Request("r3", 1), CancellationToken.None);
            await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 1001, "the next failure was counted");
            time.Advance(RelayOutcomes.Interval);
            Assert.Equal(2, logs.WithId(4011).Count);
            Assert.Contains("failed to publish 1 more message(s)", logs.WithId(4011)[1].Message, StringComparison.Ordinal);
            Assert.Single(logs.WithId(4006));

            // A quiet interval later, nothing more to tell, and the next failure is a warning of its own at once.
            time.Advance(RelayOutcomes.Interval);
            Assert.Equal(2, logs.WithId(4011).Count);
            time.Advance(RelayOutcomes.Interval);
            await federation.PublishAsync(Request("r4", 1), CancellationToken.None);

            // Logged on the relay's thread: wait for the warning.
            await CollectivesTestbed.WaitUntilAsync(() => logs.WithId(4006).Count >= 2, "the warning after a quiet interval");
            var warnings = logs.WithId(4006);
            Assert.Equal(2, warnings.Count);
            Assert.Contains("0 other failed publish(es)", warnings[1].Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Failed_publishes_left_out_of_the_warning_are_told_at_the_stop_not_by_a_timer_after_it()
    {
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        var time = new FakeTimeProvider();
        var failing = new PublishFailingTransport(testbed.Transport, failOnSubject: "mcollective.node.broken");
        testbed.Registry.GetOrAdd("fed");
        testbed.Registry.GetOrAdd("london");
        var broker = new FederationBroker(new FederationBrokerOptions
        {
            ClusterName = "lossy", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "lossy-1",
        }, [failing], testbed.Telemetry, loggerFactory, time);
        await broker.StartAsync(CancellationToken.None);
        var federation = await testbed.ConnectAsync("fed");
        await federation.PublishAsync(new SubjectMessage("choria.federation.lossy.federation", Encoding.UTF8.GetBytes("x"),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"),
             .. Enumerable.Range(0, 3).Select(i => new KeyValuePair<string, string>(FederationHeaders.Target, $"mcollective.node.broken{i}"))]), CancellationToken.None);
        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.Errors == 3, "every failed publish was counted");
        Assert.Empty(logs.WithId(4011));

        await broker.DisposeAsync();

        var summary = Assert.Single(logs.WithId(4011));
        Assert.Contains("failed to publish 2 more message(s)", summary.Message, StringComparison.Ordinal);
        var stopped = logs.Entries.ToList();
        Assert.True(stopped.IndexOf(summary) < stopped.FindIndex(e => e.EventId.Id == 4002), "the summary comes before the stop's line");

        // No timer left to tell it again once the interval is over.
        time.Advance(RelayOutcomes.Interval);
        Assert.Single(logs.WithId(4011));
    }

    [Fact]
    public async Task Starting_against_a_stopped_server_does_not_fail_the_start_and_keeps_nothing_open()
    {
        await using var testbed = new CollectivesTestbed();
        testbed.Registry.GetOrAdd("london").Stop();

        var broker = await testbed.StartBrokerAsync("london", "fed", "london");

        Assert.False(broker.IsConnected);
        Assert.Contains("'london' is stopped", broker.ConnectError, StringComparison.Ordinal);
        Assert.Equal(0, testbed.Registry.GetOrAdd("fed").ConnectionCount); // the federation side was closed again
    }

    [Fact]
    public async Task Cancelling_a_request_stops_waiting_for_replies()
    {
        await using var testbed = new CollectivesTestbed();

        // A cluster that is served, into a collective where nothing answers: a cluster nobody serves would end at once.
        await testbed.StartBrokerAsync("silent", "fed", "empty");
        var client = await testbed.ClientAsync("fed");
        using var cancel = new CancellationTokenSource();

        var pending = client.RequestAsync(Ping(["silent"], "mcollective.node.web1") with { ExpectedReplies = 1, Timeout = TimeSpan.FromMinutes(5) }, cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Theory]
    [InlineData("a.b", "Federations")]
    [InlineData("", "Federations")]
    public async Task Invalid_federation_names_are_rejected_naming_them(string federation, string key)
    {
        await using var testbed = new CollectivesTestbed();
        var client = await testbed.ClientAsync("fed");

        var error = await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync(Ping([federation], "mcollective.node.web1"), CancellationToken.None));

        Assert.Contains($"{key}: '{federation}'", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Wraps a transport so that publishing to one subject fails, as a publish on a lost connection does.</summary>
    /// <summary>Fails every publish to a subject that starts with <paramref name="failOnSubject"/>.</summary>
    private sealed class PublishFailingTransport(ISubjectTransport inner, string failOnSubject) : ISubjectTransport
    {
        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), failOnSubject);

        private sealed class Connection(ISubjectConnection inner, string failOnSubject) : ISubjectConnection
        {
            public string DisplayUri => inner.DisplayUri;

            public string? ConnectedServer => inner.ConnectedServer;

            public Task Completion => inner.Completion;

            public ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken) =>
                inner.SubscribeAsync(subject, queueGroup, handler, cancellationToken);

            public ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken) =>
                message.Subject.StartsWith(failOnSubject, StringComparison.Ordinal)
                    ? throw new Federation.Core.Transport.ConnectionLostException("simulated loss")
                    : inner.PublishAsync(message, cancellationToken);

            public ValueTask FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
