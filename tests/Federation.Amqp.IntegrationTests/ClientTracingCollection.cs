using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// Tests that listen to RabbitMQ.Client's activity sources run alone, on nodes of their own. While a listener is alive,
/// the client writes a <c>traceparent</c> header into every message that any test in this process publishes, so a
/// test running meanwhile that expects a message without headers would see one.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClientTracingCollection : ICollectionFixture<ClientTracingNodesFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "RabbitMQ.Client tracing";
}

/// <summary>The client-tracing tests' nodes.</summary>
public sealed class ClientTracingNodesFixture : RabbitMqNodePairFixture;
