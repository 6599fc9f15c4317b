using System.Collections.Concurrent;

namespace Federation.Amqp;

/// <summary>
/// The deliveries of one connection whose content header <see cref="InboundFrameDefuser"/> defused, by channel and
/// delivery tag, with what RabbitMQ.Client could not have read: written by the connection's reader before the client
/// dispatches the delivery, taken by the consumer it is dispatched to.
/// </summary>
internal sealed class UnreadableDeliveries
{
    private readonly ConcurrentDictionary<(ushort Channel, ulong DeliveryTag), string> _problems = new();

    /// <summary>Records that the delivery <paramref name="deliveryTag"/> on <paramref name="channel"/> was defused.</summary>
    public void Add(ushort channel, ulong deliveryTag, string problem) => _problems[(channel, deliveryTag)] = problem;

    /// <summary>Why the delivery's header was defused, or null when it was not (the common case: one lookup in an empty map).</summary>
    public string? Take(ushort channel, ulong deliveryTag) =>
        !_problems.IsEmpty && _problems.TryRemove((channel, deliveryTag), out var problem) ? problem : null;
}
