using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Collectives;

/// <summary>
/// A server in a member collective, as Choria nodes are: it answers the <c>rpcutil</c> agent's broadcasts and requests
/// addressed to its own node subject, with its identity and collective.
/// </summary>
internal static class SimulatedNode
{
    /// <summary>The Choria collective name every member uses; the collectives are kept apart by their servers.</summary>
    public const string CollectiveSubjectName = "mcollective";

    /// <summary>The broadcast subject of the agent the example calls.</summary>
    public const string RpcutilBroadcast = CollectiveSubjectName + ".broadcast.agent.rpcutil";

    /// <summary>The header naming the collective that answered.</summary>
    public const string CollectiveHeader = "X-Collective";

    public static async Task StartAsync(ISubjectConnection connection, string collective, string identity, CancellationToken cancellationToken)
    {
        SubjectMessageHandler answer = (request, token) => connection.ReplyAsync(
            request,
            Encoding.UTF8.GetBytes($"{identity}: pong ({Encoding.UTF8.GetString(request.Body.Span)})"),
            [new(CollectiveHeader, collective)],
            token);
        await connection.SubscribeAsync(RpcutilBroadcast, null, answer, cancellationToken);
        await connection.SubscribeAsync($"{CollectiveSubjectName}.node.{identity}", null, answer, cancellationToken);
    }
}
