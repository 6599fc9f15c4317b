namespace Federation.Core.Collectives;

/// <summary>
/// How a federation broker cluster reads requests and replies (<see cref="FederationBrokerOptions.Envelope"/>; configuration
/// values <c>native</c>, <c>choria-v1</c>, <c>choria-v2</c>, <c>choria</c>). All instances of one cluster, and its clients and
/// members, must use the same format.
/// </summary>
public enum FederationEnvelopeFormat
{
    /// <summary>This library's envelope: <see cref="FederationHeaders"/> in message headers, the body untouched.</summary>
    Native = 0,

    /// <summary>Choria's transport JSON <c>choria:transport:1</c> as the message body; other versions are rejected.</summary>
    ChoriaV1 = 1,

    /// <summary>Choria's transport JSON <c>io.choria.protocol.v2.transport</c> as the message body; other versions are rejected.</summary>
    ChoriaV2 = 2,

    /// <summary>Either Choria version, as go-choria's broker does; each message is forwarded in the version it came in.</summary>
    Choria = 3,
}
