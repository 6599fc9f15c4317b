using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>
/// A simulated node of a member collective: answers broadcasts to <c>mcollective.broadcast.agent.rpcutil</c> and requests to
/// <c>mcollective.node.&lt;name&gt;</c> with its name, and records what it received.
/// </summary>
internal sealed class AmqpCollectiveNode : IAsyncDisposable
{
    public const string Broadcast = "mcollective.broadcast.agent.rpcutil";

    private readonly ConcurrentQueue<string> _received = new();
    private readonly ISubjectConnection _connection;

    private AmqpCollectiveNode(string name, ISubjectConnection connection)
    {
        Name = name;
        _connection = connection;
    }

    public string Name { get; }

    public static string DirectSubject(string name) => $"mcollective.node.{name}";

    /// <summary>Bodies of the requests received so far, in arrival order.</summary>
    public IReadOnlyList<string> Received => [.. _received];

    public static async Task<AmqpCollectiveNode> StartAsync(string name, string collectiveUri, ISubjectTransport transport)
    {
        var connection = await transport.ConnectAsync(new SubjectConnectionRequest(collectiveUri, $"node {name}"), CancellationToken.None);
        var node = new AmqpCollectiveNode(name, connection);
        await connection.SubscribeAsync(Broadcast, null, node.AnswerAsync, CancellationToken.None);
        await connection.SubscribeAsync(DirectSubject(name), null, node.AnswerAsync, CancellationToken.None);
        return node;
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private async ValueTask AnswerAsync(SubjectMessage request, CancellationToken cancellationToken)
    {
        _received.Enqueue(Encoding.UTF8.GetString(request.Body.Span));
        if (request.ReplyTo is not null)
        {
            await _connection.ReplyAsync(request, Encoding.UTF8.GetBytes(Name), [new("node", Name)], cancellationToken);
        }
    }
}
