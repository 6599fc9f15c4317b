namespace Federation.Core.Collectives.Choria;

/// <summary>The two versions of Choria's transport envelope (go-choria <c>protocol/v1/transport.go</c>, <c>protocol/v2/transport.go</c>).</summary>
internal enum ChoriaProtocolVersion
{
    /// <summary><c>choria:transport:1</c>.</summary>
    V1,

    /// <summary><c>io.choria.protocol.v2.transport</c>.</summary>
    V2,
}
