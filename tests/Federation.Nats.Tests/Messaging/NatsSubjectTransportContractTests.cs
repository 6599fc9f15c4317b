using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Transport.Contracts.Messaging;

namespace Federation.Nats.Tests.Messaging;

/// <summary>The subject-messaging contract suite against one shared real nats-server.</summary>
public sealed class NatsSubjectTransportContractTests(NatsServerFixture fixture) : SubjectTransportContractTests, IClassFixture<NatsServerFixture>
{
    protected override ValueTask<ISubjectConnection> ConnectAsync(string connectionName, CancellationToken cancellationToken) =>
        new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, connectionName), cancellationToken);
}
