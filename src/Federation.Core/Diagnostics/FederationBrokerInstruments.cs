using System.Diagnostics.Metrics;

namespace Federation.Core.Diagnostics;

/// <summary>
/// The federation broker's instruments, equivalent to Choria's <c>choria_federation_*</c> families. Every measurement has
/// the tags <see cref="ClusterTag"/>, <see cref="DirectionTag"/>, <see cref="InstanceTag"/> and <see cref="ConnectedToTag"/>;
/// errors add <see cref="ErrorTypeTag"/>.
/// </summary>
internal sealed class FederationBrokerInstruments(Meter meter)
{
    public const string ReceivedName = "federation.broker.messages.received";
    public const string PublishedName = "federation.broker.messages.published";
    public const string ErrorsName = "federation.broker.errors";
    public const string DurationName = "federation.broker.processing.duration";

    /// <summary>The broker cluster name (Choria's <c>cluster</c> label).</summary>
    public const string ClusterTag = "federation.broker.cluster";

    /// <summary><c>request</c> (federation to collective) or <c>reply</c> (collective to federation).</summary>
    public const string DirectionTag = "federation.broker.direction";

    /// <summary>The broker instance name (Choria's <c>identity</c>/<c>worker</c>).</summary>
    public const string InstanceTag = "federation.broker.instance";

    /// <summary><c>federation</c> or <c>collective</c>: the side the message was received from or published to.</summary>
    public const string ConnectedToTag = "federation.broker.connected_to";

    /// <summary>Why a message was rejected or a publish failed (OpenTelemetry's <c>error.type</c>).</summary>
    public const string ErrorTypeTag = "error.type";

    public Counter<long> Received { get; } = meter.CreateCounter<long>(ReceivedName, "{message}",
        "Messages a federation broker instance received, per side.");

    public Counter<long> Published { get; } = meter.CreateCounter<long>(PublishedName, "{message}",
        "Messages a federation broker instance published: one per target subject for requests, one per reply.");

    public Counter<long> Errors { get; } = meter.CreateCounter<long>(ErrorsName, "{message}",
        "Messages a federation broker rejected (error.type malformed, hop_limit, target_rejected, reply_rejected), messages the incoming transport dropped before the broker saw them (unreadable, slow_consumer), messages the outgoing transport refused to carry (unsendable) and publishes that failed (publish_failed).");

    public Histogram<double> Duration { get; } = meter.CreateHistogram<double>(DurationName, "s",
        "Time a federation broker instance took to process one message, publishes included.");
}
