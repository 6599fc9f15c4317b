using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>Two real RabbitMQ nodes, an upstream and a downstream, with distinct cluster names.</summary>
public sealed class FederationNodesFixture : IAsyncLifetime
{
    private RabbitMqNode? upstream;
    private RabbitMqNode? downstream;

    /// <summary>The node messages are published to.</summary>
    public RabbitMqNode Upstream => upstream ?? throw new InvalidOperationException("Not started.");

    /// <summary>The node the federation engine runs against.</summary>
    public RabbitMqNode Downstream => downstream ?? throw new InvalidOperationException("Not started.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        upstream = await RabbitMqNode.StartNewAsync();
        downstream = await RabbitMqNode.StartNewAsync();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (downstream is not null)
        {
            await downstream.DisposeAsync();
        }

        if (upstream is not null)
        {
            await upstream.DisposeAsync();
        }
    }
}

/// <summary>The end-to-end federation tests' nodes.</summary>
[CollectionDefinition(Name)]
public sealed class FederationNodesCollection : ICollectionFixture<FederationNodesFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "RabbitMQ federation nodes";
}
