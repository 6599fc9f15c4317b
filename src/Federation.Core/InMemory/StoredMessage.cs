using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>A published message as the broker keeps it. One instance is shared by every queue it was routed to, so it is never mutated.</summary>
/// <param name="Exchange">Exchange it was published to.</param>
/// <param name="RoutingKey">Routing key it was published with.</param>
/// <param name="Properties">The broker's private deep copy of the publisher's properties.</param>
/// <param name="Body">The broker's private copy of the body.</param>
/// <param name="PublishedAt">When it was published, for <c>x-message-ttl</c>.</param>
internal sealed record StoredMessage(string Exchange, string RoutingKey, MessageProperties Properties, ReadOnlyMemory<byte> Body, DateTimeOffset PublishedAt);

/// <summary>A message in one queue, or unacknowledged at one consumer.</summary>
/// <param name="Message">The shared message.</param>
/// <param name="Redelivered">Whether this queue delivered it before.</param>
internal readonly record struct QueuedMessage(StoredMessage Message, bool Redelivered);
