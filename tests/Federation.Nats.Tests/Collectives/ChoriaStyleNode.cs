using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Core.Transport.Messaging;

namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// A node that behaves on the wire as a go-choria server does, written without the library's Choria code so it checks it
/// independently: it subscribes to <c>&lt;collective&gt;.broadcast.agent.rpcutil</c> and <c>&lt;collective&gt;.node.&lt;identity&gt;</c>,
/// reads the transport JSON, and answers to the JSON reply subject (not the NATS one) with a reply transport of the same
/// version that carries its identity as sender and copies the federation block and the trail (go-choria
/// choria/protocol.go NewReplyTransportForMessage with protocol/federation.go CopyFederationData).
/// </summary>
internal sealed class ChoriaStyleNode : IAsyncDisposable
{
    private readonly ISubjectConnection _connection;

    private ChoriaStyleNode(string identity, ISubjectConnection connection)
    {
        Identity = identity;
        _connection = connection;
    }

    public string Identity { get; }

    /// <summary>The requests received: subject, NATS reply subject and the parsed transport.</summary>
    public ConcurrentQueue<(string Subject, string? NatsReplyTo, JsonObject Transport)> Received { get; } = new();

    /// <summary>The secure-reply stand-in this node puts in <c>data</c>.</summary>
    public static string ReplyData(string identity) => $$"""{"protocol":"choria:secure:reply:1","message":"pong from {{identity}}"}""";

    public static async Task<ChoriaStyleNode> StartAsync(string identity, string collective, string serverUrl, ISubjectTransport transport)
    {
        var connection = await transport.ConnectAsync(new SubjectConnectionRequest(serverUrl, $"choria node {identity}"), CancellationToken.None);
        var node = new ChoriaStyleNode(identity, connection);
        await connection.SubscribeAsync($"{collective}.broadcast.agent.rpcutil", null, node.AnswerAsync, CancellationToken.None);
        await connection.SubscribeAsync($"{collective}.node.{identity}", null, node.AnswerAsync, CancellationToken.None);
        await connection.FlushAsync(CancellationToken.None);
        return node;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private async ValueTask AnswerAsync(SubjectMessage message, CancellationToken cancellationToken)
    {
        var request = JsonNode.Parse(message.Body.Span)!.AsObject();
        Received.Enqueue((message.Subject, message.ReplyTo, request));
        var v1 = (string?)request["protocol"] == "choria:transport:1";
        var headers = request["headers"]!.AsObject();
        var replyTo = (string)headers[v1 ? "reply-to" : "reply"]!;
        var federation = headers["federation"]!.AsObject();

        var replyFederation = new JsonObject
        {
            [v1 ? "req" : "request"] = federation[v1 ? "req" : "request"]!.DeepClone(),
            [v1 ? "reply-to" : "reply"] = federation[v1 ? "reply-to" : "reply"]!.DeepClone(),
        };
        var reply = new JsonObject
        {
            ["protocol"] = request["protocol"]!.DeepClone(),
            ["data"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(ReplyData(Identity))),
            ["headers"] = new JsonObject
            {
                [v1 ? "mc_sender" : "sender"] = Identity,
                [v1 ? "seen-by" : "trace"] = headers[v1 ? "seen-by" : "trace"]!.DeepClone(),
                ["federation"] = replyFederation,
            },
        };
        await _connection.PublishAsync(new SubjectMessage(replyTo, Encoding.UTF8.GetBytes(reply.ToJsonString())), cancellationToken);
    }
}
