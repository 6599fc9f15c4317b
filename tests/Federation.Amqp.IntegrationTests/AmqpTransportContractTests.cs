using Federation.Core.Transport;
using Federation.Transport.Contracts;

namespace Federation.Amqp.IntegrationTests;

/// <summary>Runs the adapter contract against a real RabbitMQ node through <see cref="AmqpTransport"/>.</summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpTransportContractTests(RabbitMqNodeFixture fixture) : TransportContractTests
{
    private readonly AmqpTransport transport = new();

    /// <summary>Closes every connection through the management API, as the broker does on a network failure (320 CONNECTION_FORCED).</summary>
    protected override Func<Task>? DropConnections => async () =>
    {
        using var management = new ManagementApi(AmqpEndpoint.Parse(fixture.Node.AmqpUri()));
        await management.CloseConnectionsAsync(Ct);
    };

    protected override ValueTask<IBrokerConnection> ConnectAsync(string connectionName, CancellationToken cancellationToken) =>
        transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(), connectionName), cancellationToken);
}
