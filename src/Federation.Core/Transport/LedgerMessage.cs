namespace Federation.Core.Transport;

/// <summary>One message for <see cref="IDeliveryLedger.PublishAndRecordAsync"/>.</summary>
/// <param name="Exchange">Target exchange.</param>
/// <param name="RoutingKey">Routing key.</param>
/// <param name="Properties">Message properties; not kept after the call.</param>
/// <param name="Body">Message body; valid until the call completes.</param>
public sealed record LedgerMessage(string Exchange, string RoutingKey, MessageProperties Properties, ReadOnlyMemory<byte> Body)
{
    /// <summary>
    /// The span this message is published under, or <see langword="null"/> when nothing is traced. A transport whose client
    /// starts spans of its own for publishes (and writes their trace context into the message) starts them under this one,
    /// so the message's trace goes on.
    /// </summary>
    public System.Diagnostics.Activity? Span { get; init; }
}
