using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>One message in an emulated queue (<see cref="NatsEmulatedQueue"/>): where it was published, its headers and its body.</summary>
internal sealed record NatsQueuedMessage(string Exchange, string RoutingKey, NatsHeaders? Headers, ReadOnlyMemory<byte> Body);
