using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// Choria wire compatibility over real nats-servers: a simulated Choria client publishes federated requests as go-choria
/// does (transport JSON, no NATS headers) to <c>choria.federation.&lt;cluster&gt;.federation</c>; Choria-style nodes receive
/// them on the target subjects and answer; the client gets the replies on its own reply subject, unfederated, with the
/// trail. Cluster <c>london</c> speaks <c>choria-v1</c>, <c>tokyo</c> <c>choria-v2</c>.
/// </summary>
public sealed class ChoriaWireTests : IAsyncLifetime
{
    private const string ClientIdentity = "rip.mcollective";
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly NatsSubjectTransport _transport = new();
    private NatsServerProcess _federation = null!;
    private NatsServerProcess _london = null!;
    private NatsServerProcess _tokyo = null!;
    private readonly Dictionary<string, ChoriaStyleNode> _nodes = [];
    private readonly Dictionary<string, FederationBroker> _brokers = [];

    public async Task InitializeAsync()
    {
        var servers = await Task.WhenAll(NatsServerProcess.StartAsync(), NatsServerProcess.StartAsync(), NatsServerProcess.StartAsync());
        _owned.AddRange(servers);
        (_federation, _london, _tokyo) = (servers[0], servers[1], servers[2]);
        foreach (var (identity, collective, server) in new[]
        {
            ("london-1", "mcollective", _london), ("london-2", "mcollective", _london),
            ("tokyo-1", "choria", _tokyo), ("tokyo-2", "choria", _tokyo), ("tokyo-3", "choria", _tokyo),
        })
        {
            var node = await ChoriaStyleNode.StartAsync(identity, collective, server.Url, _transport);
            _owned.Insert(0, node);
            _nodes[identity] = node;
        }

        _brokers["london"] = await StartBrokerAsync("london", _london, FederationEnvelopeFormat.ChoriaV1);
        _brokers["tokyo"] = await StartBrokerAsync("tokyo", _tokyo, FederationEnvelopeFormat.ChoriaV2);
    }

    private async Task<FederationBroker> StartBrokerAsync(string cluster, NatsServerProcess collective, FederationEnvelopeFormat envelope)
    {
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = cluster, FederationUri = _federation.Url, CollectiveUri = collective.Url, InstanceName = $"{cluster}-choria-broker", Envelope = envelope },
            [_transport]);
        _owned.Insert(0, broker);
        await broker.StartAsync(CancellationToken.None);
        return broker;
    }

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }

    /// <summary>A transport as go-choria's client builds it (choria/connection.go Publish: the client's own hop, then the federation block).</summary>
    private string ClientRequest(bool v1, string requestId, string replyTo, string[] targets)
    {
        var hop = new JsonArray(_federation.Url, ClientIdentity, _federation.Url);
        var transport = new JsonObject
        {
            ["protocol"] = v1 ? "choria:transport:1" : "io.choria.protocol.v2.transport",
            ["data"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($$"""{"protocol":"choria:secure:request:1","message":"ping {{requestId}}"}""")),
            ["headers"] = new JsonObject
            {
                [v1 ? "reply-to" : "reply"] = replyTo,
                [v1 ? "mc_sender" : "sender"] = ClientIdentity,
                [v1 ? "seen-by" : "trace"] = new JsonArray(hop),
                ["federation"] = new JsonObject
                {
                    [v1 ? "req" : "request"] = requestId,
                    [v1 ? "target" : "targets"] = new JsonArray([.. targets.Select(t => (JsonNode)JsonValue.Create(t))]),
                },
            },
        };
        return transport.ToJsonString();
    }

    private async Task<(ISubjectConnection Client, ConcurrentQueue<SubjectMessage> Replies)> ClientAsync(string replyTo)
    {
        var client = await _transport.ConnectAsync(new SubjectConnectionRequest(_federation.Url, "choria client"), CancellationToken.None);
        _owned.Insert(0, client);
        var replies = new ConcurrentQueue<SubjectMessage>();
        await client.SubscribeAsync(replyTo, null, (message, _) =>
        {
            replies.Enqueue(message with { Body = message.Body.ToArray() });
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        await client.FlushAsync(CancellationToken.None);
        return (client, replies);
    }

    private static string Text(ReadOnlyMemory<byte> body) => Encoding.UTF8.GetString(body.Span);

    [Fact]
    public async Task A_v1_federated_broadcast_reaches_the_collectives_nodes_and_their_replies_reach_the_client_as_choria_expects()
    {
        const string requestId = "a2f0ca717c694f2086cfa81b6c494648";
        const string replyTo = $"mcollective.reply.37bdf08389145a56c13096c178802d3b.{requestId}";
        var (client, replies) = await ClientAsync(replyTo);

        await client.PublishAsync(new SubjectMessage("choria.federation.london.federation", Encoding.UTF8.GetBytes(ClientRequest(v1: true, requestId, replyTo, ["mcollective.broadcast.agent.rpcutil"]))), CancellationToken.None);
        await Eventually.TrueAsync(() => replies.Count == 2, "both london nodes' replies reached the client");

        foreach (var identity in new[] { "london-1", "london-2" })
        {
            var (subject, natsReplyTo, request) = Assert.Single(_nodes[identity].Received);
            Assert.Equal("mcollective.broadcast.agent.rpcutil", subject);
            Assert.Null(natsReplyTo);
            var headers = request["headers"]!.AsObject();
            Assert.Equal("choria.federation.london.collective", (string?)headers["reply-to"]);
            Assert.Equal(ClientIdentity, (string?)headers["mc_sender"]);
            Assert.Equal($$"""{"req":"{{requestId}}","reply-to":"{{replyTo}}"}""", headers["federation"]!.ToJsonString());
            Assert.Equal(
                $$"""[["{{_federation.Url}}","{{ClientIdentity}}","{{_federation.Url}}"],["{{_federation.Url}}","london-choria-broker","{{_london.Url}}"]]""",
                headers["seen-by"]!.ToJsonString());
        }

        Assert.Equal(["london-1", "london-2"], AssertRepliesAsChoriaExpects(replies, v1: true, _london));
        Assert.All(_nodes.Values.Where(n => n.Identity.StartsWith("tokyo", StringComparison.Ordinal)), n => Assert.Empty(n.Received));
        Assert.Equal(new FederationBrokerStatistics(1, 2, 3, 0), _brokers["london"].Statistics);
    }

    [Fact]
    public async Task A_v2_federated_directed_request_reaches_only_the_named_nodes_and_their_replies_reach_the_client()
    {
        const string requestId = "2fStoRv4HVstNxy1hHonvl14VCE";
        const string replyTo = $"choria.reply.37bdf08389145a56c13096c178802d3b.{requestId}";
        var (client, replies) = await ClientAsync(replyTo);

        await client.PublishAsync(new SubjectMessage("choria.federation.tokyo.federation", Encoding.UTF8.GetBytes(ClientRequest(v1: false, requestId, replyTo, ["choria.node.tokyo-1", "choria.node.tokyo-3"]))), CancellationToken.None);
        await Eventually.TrueAsync(() => replies.Count == 2, "both named tokyo nodes' replies reached the client");

        foreach (var identity in new[] { "tokyo-1", "tokyo-3" })
        {
            var (subject, natsReplyTo, request) = Assert.Single(_nodes[identity].Received);
            Assert.Equal($"choria.node.{identity}", subject);
            Assert.Null(natsReplyTo);
            var headers = request["headers"]!.AsObject();
            Assert.Equal("io.choria.protocol.v2.transport", (string?)request["protocol"]);
            Assert.Equal("choria.federation.tokyo.collective", (string?)headers["reply"]);
            Assert.Equal(ClientIdentity, (string?)headers["sender"]);
            Assert.Equal($$"""{"request":"{{requestId}}","reply":"{{replyTo}}"}""", headers["federation"]!.ToJsonString());
            Assert.Equal(2, headers["trace"]!.AsArray().Count);
        }

        Assert.Equal(["tokyo-1", "tokyo-3"], AssertRepliesAsChoriaExpects(replies, v1: false, _tokyo));
        Assert.Empty(_nodes["tokyo-2"].Received);
    }

    [Fact]
    public async Task A_request_in_the_other_version_is_counted_as_malformed_and_reaches_nobody()
    {
        const string replyTo = "choria.reply.x.y";
        var (client, replies) = await ClientAsync(replyTo);
        var errorsBefore = _brokers["tokyo"].Statistics.Errors;

        await client.PublishAsync(new SubjectMessage("choria.federation.tokyo.federation", Encoding.UTF8.GetBytes(ClientRequest(v1: true, "r1", replyTo, ["choria.broadcast.agent.rpcutil"]))), CancellationToken.None);
        await Eventually.TrueAsync(() => _brokers["tokyo"].Statistics.Errors == errorsBefore + 1, "the tokyo broker counted the v1 request as an error");

        Assert.Empty(replies);
        Assert.All(_nodes.Values, n => Assert.DoesNotContain(n.Received, r => r.Subject == "choria.broadcast.agent.rpcutil"));
    }

    /// <summary>Checks every reply: plain transport JSON without NATS headers, no federation block, sender and data from the node, three hops. Returns the senders.</summary>
    private List<string> AssertRepliesAsChoriaExpects(IEnumerable<SubjectMessage> replies, bool v1, NatsServerProcess collective)
    {
        var senders = new List<string>();
        foreach (var reply in replies)
        {
            Assert.Null(reply.Headers);
            var transport = JsonNode.Parse(reply.Body.Span)!.AsObject();
            Assert.Equal(v1 ? "choria:transport:1" : "io.choria.protocol.v2.transport", (string?)transport["protocol"]);
            var headers = transport["headers"]!.AsObject();
            Assert.False(headers.ContainsKey("federation"));
            var sender = (string)headers[v1 ? "mc_sender" : "sender"]!;
            senders.Add(sender);
            Assert.Equal(ChoriaStyleNode.ReplyData(sender), Text(Convert.FromBase64String((string)transport["data"]!)));
            var broker = v1 ? "london-choria-broker" : "tokyo-choria-broker";
            Assert.Equal(
                $$"""[["{{_federation.Url}}","{{ClientIdentity}}","{{_federation.Url}}"],["{{_federation.Url}}","{{broker}}","{{collective.Url}}"],["{{collective.Url}}","{{broker}}","{{_federation.Url}}"]]""",
                headers[v1 ? "seen-by" : "trace"]!.ToJsonString());
        }

        senders.Sort(StringComparer.Ordinal);
        return senders;
    }
}
