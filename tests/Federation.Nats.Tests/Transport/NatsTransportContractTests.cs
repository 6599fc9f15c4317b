using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Transport.Contracts;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// The exchange-transport contract suite against a real nats-server (one per test class, restarted by the fault cases),
/// through <see cref="NatsTransport"/>. Core NATS declares none of the <see cref="TransportCapabilities"/>, so every case
/// checks the alternative behaviour documented on the flags it needs. The server runs JetStream (which core NATS links
/// ignore) so that the lease cases run against the transport's key-value leases.
/// </summary>
public sealed class NatsTransportContractTests(NatsJetStreamServerFixture fixture) : TransportContractTests, IClassFixture<NatsJetStreamServerFixture>
{
    private readonly NatsTransport transport = new();

    protected override ITransport Transport => transport;

    protected override string BrokerUri => fixture.Server.Url;

    /// <summary>
    /// Kills the nats-server and starts it again on the same port: every client socket is lost, as on a network failure.
    /// nats-server 2.9 has no request that closes client connections, and a core NATS server keeps nothing a restart could lose.
    /// </summary>
    protected override Task DropConnectionsAsync() => fixture.Server.RestartAsync();

    /// <summary>Kills the nats-server and starts it again on the same port.</summary>
    protected override Task RestartBrokerAsync() => fixture.Server.RestartAsync();
}
