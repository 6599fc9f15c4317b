namespace Federation.Core.Transport;

/// <summary>A message delivered to a consumer.</summary>
/// <param name="DeliveryTag">Consumer-scoped tag used to ack or nack this delivery.</param>
/// <param name="Redelivered">Whether the broker has delivered this message before (a possible duplicate).</param>
/// <param name="Exchange">Exchange the message was published to.</param>
/// <param name="RoutingKey">Routing key it was published with.</param>
/// <param name="Properties">Message properties; the receiver owns this instance.</param>
/// <param name="Body">Message body.</param>
public sealed record Delivery(
    ulong DeliveryTag,
    bool Redelivered,
    string Exchange,
    string RoutingKey,
    MessageProperties Properties,
    ReadOnlyMemory<byte> Body);
