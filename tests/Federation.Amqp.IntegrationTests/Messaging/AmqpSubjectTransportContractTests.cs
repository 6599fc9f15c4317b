using Federation.Amqp.Messaging;
using Federation.Core.Transport.Messaging;
using Federation.Transport.Contracts.Messaging;

namespace Federation.Amqp.IntegrationTests.Messaging;

/// <summary>The subject-messaging contract suite (the one the in-memory bus and NATS pass) against a real RabbitMQ node.</summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpSubjectTransportContractTests(RabbitMqNodeFixture fixture) : SubjectTransportContractTests
{
    // Drain disposes at once: the deliveries the loop has not taken are unacknowledged and go back to the group's queue.
    protected override bool DrainsHeldMessages => false;

    protected override ValueTask<ISubjectConnection> ConnectAsync(string connectionName, CancellationToken cancellationToken) =>
        new AmqpSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri(), connectionName), cancellationToken);
}
