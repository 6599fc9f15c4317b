using System.Text;
using System.Text.Json;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// What one message can make a broker do is bounded: the targets it fans out to (a node on the federation must not turn
/// one small request into millions of publishes) and, in Choria's envelope, the broker passes its trail shows.
/// </summary>
public sealed class RelayLimitTests
{
    private static SubjectMessage NativeRequest(RelayHarness harness, int targets) => new(harness.Subjects.Federation, "x"u8.ToArray(),
        [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"),
         .. Enumerable.Range(0, targets).Select(i => new KeyValuePair<string, string>(FederationHeaders.Target, $"mcollective.node.web{i}"))]);

    private static SubjectMessage ChoriaRequest(RelayHarness harness, int targets, int trail = 1) => new(harness.Subjects.Federation, Encoding.UTF8.GetBytes(
        "{\"protocol\":\"choria:transport:1\",\"data\":\"eyJhIjoxfQ==\",\"headers\":{\"reply-to\":\"mcollective.reply.c.1\",\"seen-by\":" + Trail(trail)
        + ",\"federation\":{\"req\":\"r1\",\"target\":" + JsonSerializer.Serialize(Enumerable.Range(0, targets).Select(i => $"mcollective.node.web{i}")) + "}}}"));

    private static SubjectMessage ChoriaReply(RelayHarness harness, int trail) => new(harness.Subjects.Collective, Encoding.UTF8.GetBytes(
        "{\"protocol\":\"choria:transport:1\",\"data\":\"eyJhIjoxfQ==\",\"headers\":{\"mc_sender\":\"web1\",\"seen-by\":" + Trail(trail)
        + ",\"federation\":{\"req\":\"r1\",\"reply-to\":\"mcollective.reply.c.1\"}}}"));

    private static string Trail(int hops) => JsonSerializer.Serialize(Enumerable.Range(0, hops).Select(i => new[] { "nats://a:4222", $"p{i}", "nats://b:4222" }));

    [Theory]
    [InlineData(FederationEnvelopeFormat.Native)]
    [InlineData(FederationEnvelopeFormat.Choria)]
    public async Task A_request_with_more_targets_than_the_default_limit_is_dropped_whole_and_counted(FederationEnvelopeFormat envelope)
    {
        var cluster = $"fanout-{envelope}".ToLowerInvariant();
        using var metrics = new BrokerMetricsRecorder(cluster);
        using var harness = new RelayHarness(o => o.Envelope = envelope, cluster);

        // 1 001 distinct targets in one request: one message from one node would become 1 001 publishes, each with its body.
        await harness.RequestAsync(envelope == FederationEnvelopeFormat.Native ? NativeRequest(harness, 1001) : ChoriaRequest(harness, 1001));

        Assert.Empty(harness.Collective.Published);
        Assert.Equal(1, harness.Statistics.Errors);
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", "too_many_targets"), ("federation.broker.direction", "request")));
    }

    [Theory]
    [InlineData(FederationEnvelopeFormat.Native)]
    [InlineData(FederationEnvelopeFormat.Choria)]
    public async Task A_request_with_as_many_targets_as_the_limit_is_forwarded_to_each(FederationEnvelopeFormat envelope)
    {
        using var harness = new RelayHarness(o => { o.Envelope = envelope; o.MaxTargets = 3; });

        await harness.RequestAsync(envelope == FederationEnvelopeFormat.Native ? NativeRequest(harness, 3) : ChoriaRequest(harness, 3));
        await harness.RequestAsync(envelope == FederationEnvelopeFormat.Native ? NativeRequest(harness, 4) : ChoriaRequest(harness, 4));

        Assert.Equal(["mcollective.node.web0", "mcollective.node.web1", "mcollective.node.web2"], harness.Collective.Published.Select(m => m.Subject));
        Assert.Equal(new FederationBrokerStatistics(2, 0, 3, 1), harness.Statistics);
    }

    [Fact]
    public async Task Duplicate_targets_count_towards_the_limit()
    {
        // Each one is checked against the guard before the duplicates are skipped: they cost as much as distinct ones.
        using var harness = new RelayHarness(o => o.MaxTargets = 3);
        await harness.RequestAsync(new SubjectMessage(harness.Subjects.Federation, "x"u8.ToArray(),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"),
             .. Enumerable.Repeat(new KeyValuePair<string, string>(FederationHeaders.Target, "mcollective.node.web1"), 4)]));

        Assert.Empty(harness.Collective.Published);
        Assert.Equal(1, harness.Statistics.Errors);
    }

    [Fact]
    public async Task A_choria_message_whose_trail_shows_too_many_passes_is_dropped_as_over_the_hop_limit()
    {
        // Choria's JSON has no hop counter, but every broker pass appends a hop to the trail, and the client or node before
        // it at most one more: a trail of 2 x MaxHops entries has been through a loop, whichever subjects closed it.
        using var metrics = new BrokerMetricsRecorder("choria-loop");
        using var harness = new RelayHarness(o => { o.Envelope = FederationEnvelopeFormat.Choria; o.MaxHops = 3; }, "choria-loop");

        await harness.RequestAsync(ChoriaRequest(harness, targets: 1, trail: 5));
        await harness.ReplyAsync(ChoriaReply(harness, trail: 5));
        Assert.Equal(2, harness.Collective.Published.Count + harness.Federation.Published.Count);

        await harness.RequestAsync(ChoriaRequest(harness, targets: 1, trail: 6));
        await harness.ReplyAsync(ChoriaReply(harness, trail: 6));

        Assert.Equal(2, harness.Collective.Published.Count + harness.Federation.Published.Count);
        Assert.Equal(2, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.HopLimit)));
    }

    [Fact]
    public async Task A_choria_client_hop_repeated_by_a_cached_transport_counts_once_towards_the_hop_limit()
    {
        // go-choria's connector records its hop each time it publishes a message's transport, and with
        // CacheBatchedTransports (set with PKCS#11 security) a batched request publishes one cached transport once per
        // batch: the 40th batch carries 40 copies of the client's hop, and its replies carry them too (the node copies the
        // request's trail). Those are one client, not 40 broker passes.
        using var metrics = new BrokerMetricsRecorder("choria-batches");
        using var harness = new RelayHarness(o => o.Envelope = FederationEnvelopeFormat.Choria, "choria-batches");
        var clientHop = new[] { "nats://fed1:4222", "client.example.net", "nats://fed1:4222" };
        var requestTrail = JsonSerializer.Serialize(Enumerable.Repeat(clientHop, 40));
        var replyTrail = JsonSerializer.Serialize(Enumerable.Repeat(clientHop, 40).Append(["memory://fed", RelayHarness.Instance, "memory://london"]).Append(["nats://c1:4222", "web1", "nats://c1:4222"]));

        await harness.RequestAsync(new SubjectMessage(harness.Subjects.Federation, Encoding.UTF8.GetBytes(
            "{\"protocol\":\"choria:transport:1\",\"data\":\"eyJhIjoxfQ==\",\"headers\":{\"reply-to\":\"mcollective.reply.c.1\",\"seen-by\":" + requestTrail
            + ",\"federation\":{\"req\":\"r1\",\"target\":[\"mcollective.node.web1\"]}}}")));
        await harness.ReplyAsync(new SubjectMessage(harness.Subjects.Collective, Encoding.UTF8.GetBytes(
            "{\"protocol\":\"choria:transport:1\",\"data\":\"eyJhIjoxfQ==\",\"headers\":{\"mc_sender\":\"web1\",\"seen-by\":" + replyTrail
            + ",\"federation\":{\"req\":\"r1\",\"reply-to\":\"mcollective.reply.c.1\"}}}")));

        Assert.Equal(0, metrics.Sum("federation.broker.errors", ("error.type", BrokerErrorTypes.HopLimit)));
        Assert.Equal(["mcollective.node.web1"], harness.Collective.Published.Select(m => m.Subject));
        Assert.Equal(["mcollective.reply.c.1"], harness.Federation.Published.Select(m => m.Subject));
    }

    [Fact]
    public async Task A_choria_request_looped_back_into_the_broker_stops_at_the_hop_limit()
    {
        // A target pattern that lets a request reach another federation's input (here the broker's own, under a second
        // prefix a subject mapping would add): without a limit the message would circle for ever, growing its trail.
        using var harness = new RelayHarness(o => { o.Envelope = FederationEnvelopeFormat.Choria; o.TargetPattern = ".*"; });
        var message = ChoriaRequest(harness, targets: 1);
        message = message with { Body = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(message.Body.Span).Replace("mcollective.node.web0", "loop.node.back", StringComparison.Ordinal)) };
        var passes = 0;
        while (passes < 100)
        {
            await harness.RequestAsync(message);
            if (!harness.Collective.Published.TryDequeue(out var forwarded))
            {
                break;
            }

            passes++;

            // The loop: what went to the target comes back as a new request, with its trail, and the target put back.
            var json = Encoding.UTF8.GetString(forwarded.Body.Span)
                .Replace("\"reply-to\":\"choria.federation.hostile-relay.collective\"", "\"reply-to\":\"mcollective.reply.c.1\"", StringComparison.Ordinal)
                .Replace(",\"reply-to\":\"mcollective.reply.c.1\"}", ",\"target\":[\"loop.node.back\"]}", StringComparison.Ordinal);
            message = new SubjectMessage(harness.Subjects.Federation, Encoding.UTF8.GetBytes(json));
        }

        Assert.InRange(passes, 1, 2 * FederationBrokerOptions.DefaultMaxHops);
        Assert.Equal(1, harness.Statistics.Errors);
    }
}
