using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>A publish as <see cref="InMemoryBroker.PublishInterceptor"/> sees it, before routing.</summary>
/// <param name="VirtualHost">Virtual host of the publishing connection.</param>
/// <param name="ConnectionName">Name of the publishing connection.</param>
/// <param name="Exchange">Target exchange.</param>
/// <param name="RoutingKey">Routing key.</param>
/// <param name="Properties">The publisher's properties; treat them as read-only.</param>
public sealed record PublishContext(string VirtualHost, string ConnectionName, string Exchange, string RoutingKey, MessageProperties Properties);
