using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>The end-to-end tests' upstream and downstream nodes.</summary>
public sealed class FederationNodesFixture : RabbitMqNodePairFixture;

/// <summary>The end-to-end federation tests' nodes.</summary>
[CollectionDefinition(Name)]
public sealed class FederationNodesCollection : ICollectionFixture<FederationNodesFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "RabbitMQ federation nodes";
}
