namespace Federation.Core.Collectives;

/// <summary>Options of a <see cref="FederatedClient"/>.</summary>
public sealed class FederatedClientOptions
{
    /// <summary>Targets per published message, as Choria's 200: a 10 000-node request is 50 publishes per federation, the brokers fan out.</summary>
    public int TargetsPerMessage { get; set; } = 200;

    /// <summary>The brokers' subject scheme (<see cref="FederationBrokerOptions.SubjectPrefix"/>).</summary>
    public string SubjectPrefix { get; set; } = FederationBrokerOptions.DefaultSubjectPrefix;

    /// <summary>First token of the reply subjects <c>&lt;token&gt;.reply.&lt;client&gt;.&lt;request id&gt;</c>; must satisfy the brokers' reply pattern.</summary>
    public string ReplySubjectPrefix { get; set; } = "federation";

    /// <summary>The client's identity in the seen-by trail.</summary>
    public string Identity { get; set; } = Environment.MachineName;
}
