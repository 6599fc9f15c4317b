using Federation.Core.Transport;
using Federation.Transport.Contracts;

namespace Federation.Amqp.IntegrationTests;

/// <summary>Runs the adapter contract against a real RabbitMQ node through <see cref="AmqpTransport"/>.</summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpTransportContractTests(RabbitMqNodeFixture fixture) : TransportContractTests
{
    private readonly AmqpTransport transport = new();

    protected override ITransport Transport => transport;

    protected override string BrokerUri => fixture.Node.AmqpUri();

    /// <summary>RabbitMQ's queue.delete-ok carries the number of messages the deletion discarded.</summary>
    protected override bool CountsDiscardedMessages => true;

    /// <summary>
    /// Closes every connection of the node from the broker side (320 CONNECTION_FORCED), as a failing network would.
    /// rabbitmqctl rather than the management API: the API only lists connections after its next statistics tick.
    /// </summary>
    protected override async Task DropConnectionsAsync()
    {
        var result = await fixture.Node.CtlAsync(Ct, "close_all_connections", "contract test drops connections");
        Assert.True(result.ExitCode == 0, result.Output);
    }

    /// <summary>As an operator deletes a queue: rabbitmqctl, which may delete an exclusive queue that a live connection holds.</summary>
    protected override async Task<bool> DeleteLeaseAsOperatorAsync(string name)
    {
        var result = await fixture.Node.CtlAsync(Ct, "delete_queue", name);
        Assert.True(result.ExitCode == 0, result.Output);
        return true;
    }

    /// <summary>Stops the node cleanly and starts it again with the same data directory and ports.</summary>
    protected override async Task RestartBrokerAsync()
    {
        await fixture.Node.StopAsync(Ct);
        await fixture.Node.StartAsync(Ct);
    }
}
