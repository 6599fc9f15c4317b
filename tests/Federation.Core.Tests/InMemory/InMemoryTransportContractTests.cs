using Federation.Core.InMemory;
using Federation.Core.Transport;
using Federation.Transport.Contracts;

namespace Federation.Core.Tests.InMemory;

/// <summary>Runs the adapter contract against the in-memory broker, reached through its transport.</summary>
public sealed class InMemoryTransportContractTests : TransportContractTests
{
    private readonly InMemoryBroker broker = new("contract-broker");
    private readonly InMemoryTransport transport;

    public InMemoryTransportContractTests()
    {
        var registry = new InMemoryBrokerRegistry();
        registry.Add(broker);
        transport = new InMemoryTransport(registry);
    }

    protected override ITransport Transport => transport;

    protected override string BrokerUri => "memory://guest:secret@contract-broker/";

    protected override bool CountsDiscardedMessages => true;

    protected override Task DropConnectionsAsync()
    {
        broker.DropConnections();
        return Task.CompletedTask;
    }

    protected override Task<bool> DeleteLeaseAsOperatorAsync(string name)
    {
        broker.DeleteQueue(InMemoryBroker.DefaultVirtualHost, name);
        return Task.FromResult(true);
    }

    protected override Task RestartBrokerAsync()
    {
        broker.Stop();
        broker.Start();
        return Task.CompletedTask;
    }
}
