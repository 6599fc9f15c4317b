using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>One real RabbitMQ node shared by every test of a collection (a node takes about ten seconds to boot).</summary>
public sealed class RabbitMqNodeFixture : IAsyncLifetime
{
    private RabbitMqNode? node;

    /// <summary>The running node.</summary>
    public RabbitMqNode Node => node ?? throw new InvalidOperationException("The node is not started.");

    /// <inheritdoc />
    public async Task InitializeAsync() => node = await RabbitMqNode.StartNewAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }
}

/// <summary>The contract suite's node; nothing else connects to it, so dropping all its connections is safe.</summary>
[CollectionDefinition(Name)]
public sealed class ContractNodeCollection : ICollectionFixture<RabbitMqNodeFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "RabbitMQ contract node";
}
