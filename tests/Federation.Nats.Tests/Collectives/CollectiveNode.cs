using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// A simulated node of a member collective: answers broadcasts to <c>mcollective.broadcast.agent.rpcutil</c> and requests to
/// <c>mcollective.node.&lt;name&gt;</c> on its own collective's server with its name, and records what it received.
/// </summary>
internal sealed class CollectiveNode : IAsyncDisposable
{
    public const string Broadcast = "mcollective.broadcast.agent.rpcutil";

    private readonly ConcurrentQueue<SubjectMessage> _received = new();
    private readonly ISubjectConnection _connection;

    private CollectiveNode(string name, ISubjectConnection connection)
    {
        Name = name;
        _connection = connection;
    }

    public string Name { get; }

    public static string DirectSubject(string name) => $"mcollective.node.{name}";

    /// <summary>Bodies of the requests received so far, in arrival order.</summary>
    public IReadOnlyList<string> Received => [.. _received.Select(m => Encoding.UTF8.GetString(m.Body.Span))];

    public static async Task<CollectiveNode> StartAsync(string name, string collectiveUri, ISubjectTransport transport)
    {
        var connection = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUri, $"node {name}"), CancellationToken.None);
        var node = new CollectiveNode(name, connection);
        await connection.SubscribeAsync(Broadcast, null, node.AnswerAsync, CancellationToken.None);
        await connection.SubscribeAsync(DirectSubject(name), null, node.AnswerAsync, CancellationToken.None);
        return node;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private async ValueTask AnswerAsync(SubjectMessage request, CancellationToken cancellationToken)
    {
        _received.Enqueue(request with { Body = request.Body.ToArray() });
        if (request.ReplyTo is not null)
        {
            await _connection.ReplyAsync(request, Encoding.UTF8.GetBytes(Name), [new("node", Name)], cancellationToken);
        }
    }
}
