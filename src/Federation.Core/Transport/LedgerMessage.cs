namespace Federation.Core.Transport;

/// <summary>One message for <see cref="IDeliveryLedger.PublishAndRecordAsync"/>.</summary>
/// <param name="Exchange">Target exchange.</param>
/// <param name="RoutingKey">Routing key.</param>
/// <param name="Properties">Message properties; not kept after the call.</param>
/// <param name="Body">Message body; valid until the call completes.</param>
public sealed record LedgerMessage(string Exchange, string RoutingKey, MessageProperties Properties, ReadOnlyMemory<byte> Body);
