using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Federation.Core.Diagnostics;

/// <summary>
/// The federation broker's instruments, equivalent to Choria's <c>choria_federation_*</c> families. Every measurement of the
/// counters and the histogram has the tags <see cref="ClusterTag"/>, <see cref="DirectionTag"/>, <see cref="InstanceTag"/>
/// and <see cref="ConnectedToTag"/>; errors add <see cref="ErrorTypeTag"/>. The <see cref="InstancesName"/> gauge has
/// <see cref="ClusterTag"/>, <see cref="InstanceTag"/> and <see cref="StateTag"/>.
/// </summary>
internal sealed class FederationBrokerInstruments
{
    public const string ReceivedName = "federation.broker.messages.received";
    public const string InstancesName = "federation.broker.instances";

    /// <summary>The state of a running instance in <see cref="InstancesName"/>: <see cref="Connected"/> or <see cref="Connecting"/>.</summary>
    public const string StateTag = "federation.broker.state";

    /// <summary>Connected to both of its servers.</summary>
    public const string Connected = "connected";

    /// <summary>Retrying a server it has not reached or has lost.</summary>
    public const string Connecting = "connecting";

    private readonly Lock _lock = new();
    private readonly List<InstanceSource> _instances = [];

    public FederationBrokerInstruments(Meter meter)
    {
        Received = meter.CreateCounter<long>(ReceivedName, "{message}",
            "Messages a federation broker instance received, per side.");
        Published = meter.CreateCounter<long>(PublishedName, "{message}",
            "Messages a federation broker instance published: one per target subject for requests, one per reply.");
        Errors = meter.CreateCounter<long>(ErrorsName, "{message}",
            "Messages a federation broker rejected (error.type malformed, hop_limit, target_rejected, reply_rejected), messages the incoming transport dropped before the broker saw them (unreadable, slow_consumer), messages the outgoing transport refused to carry (unsendable) and publishes that failed (publish_failed).");
        Duration = meter.CreateHistogram<double>(DurationName, "s",
            "Time a federation broker instance took to process one message, publishes included.");

        // Observed, so that a scrape shows every running instance from its start, before it has carried a message (the
        // counters appear only once added to), and shows one that cannot connect.
        meter.CreateObservableGauge(InstancesName, ObserveInstances, "{instance}",
            "Running federation broker instances by state (federation.broker.state connected or connecting): 1 in the instance's state, 0 in the other.");
    }
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

    public Counter<long> Received { get; }

    public Counter<long> Published { get; }

    public Counter<long> Errors { get; }

    public Histogram<double> Duration { get; }

    /// <summary>
    /// Adds a running instance to the <see cref="InstancesName"/> gauge until the result is disposed; <paramref name="isConnected"/>
    /// is read at every observation.
    /// </summary>
    public IDisposable RegisterInstance(string cluster, string instance, Func<bool> isConnected)
    {
        var source = new InstanceSource(cluster, instance, isConnected);
        lock (_lock)
        {
            _instances.Add(source);
        }

        return new Unregister(this, source);
    }

    private IEnumerable<Measurement<int>> ObserveInstances()
    {
        InstanceSource[] instances;
        lock (_lock)
        {
            instances = [.. _instances];
        }

        foreach (var source in instances)
        {
            // Both states, 0 included, so that an instance moving between them does not leave a stale series behind.
            var connected = source.IsConnected();
            yield return new Measurement<int>(connected ? 1 : 0, Tags(source, Connected));
            yield return new Measurement<int>(connected ? 0 : 1, Tags(source, Connecting));
        }
    }

    private static TagList Tags(InstanceSource source, string state) => new()
    {
        { ClusterTag, source.Cluster },
        { InstanceTag, source.Instance },
        { StateTag, state },
    };

    private sealed record InstanceSource(string Cluster, string Instance, Func<bool> IsConnected);

    private sealed class Unregister(FederationBrokerInstruments owner, InstanceSource source) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._lock)
            {
                owner._instances.Remove(source);
            }
        }
    }
}
