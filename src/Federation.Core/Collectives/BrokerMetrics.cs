using System.Diagnostics;
using Federation.Core.Diagnostics;

namespace Federation.Core.Collectives;

/// <summary>One broker instance's measurements, with the tag sets precomputed, plus plain counters for <see cref="FederationBroker.Statistics"/>.</summary>
internal sealed class BrokerMetrics
{
    public const string Request = "request";
    public const string Reply = "reply";
    public const string FederationSide = "federation";
    public const string CollectiveSide = "collective";

    private readonly FederationBrokerInstruments _instruments;
    private readonly TagList _requestFromFederation;
    private readonly TagList _requestToCollective;
    private readonly TagList _replyFromCollective;
    private readonly TagList _replyToFederation;
    private long _requestsReceived;
    private long _repliesReceived;
    private long _published;
    private long _errors;

    private readonly string _cluster;
    private readonly string _instance;

    public BrokerMetrics(FederationTelemetry telemetry, string cluster, string instance)
    {
        _instruments = telemetry.BrokerInstruments;
        _cluster = cluster;
        _instance = instance;
        _requestFromFederation = Tags(cluster, instance, Request, FederationSide);
        _requestToCollective = Tags(cluster, instance, Request, CollectiveSide);
        _replyFromCollective = Tags(cluster, instance, Reply, CollectiveSide);
        _replyToFederation = Tags(cluster, instance, Reply, FederationSide);
    }

    public FederationBrokerStatistics Snapshot() => new(
        Interlocked.Read(ref _requestsReceived), Interlocked.Read(ref _repliesReceived), Interlocked.Read(ref _published), Interlocked.Read(ref _errors));

    /// <summary>Shows the instance in the <c>federation.broker.instances</c> gauge, connected or connecting, until the result is disposed.</summary>
    public IDisposable Running(Func<bool> isConnected) => _instruments.RegisterInstance(_cluster, _instance, isConnected);

    /// <summary>A message arrived; <paramref name="isRequest"/> tells the side (requests come from the federation, replies from the collective).</summary>
    public void Received(bool isRequest)
    {
        Interlocked.Increment(ref isRequest ? ref _requestsReceived : ref _repliesReceived);
        _instruments.Received.Add(1, isRequest ? _requestFromFederation : _replyFromCollective);
    }

    /// <summary>One message published on the outgoing side.</summary>
    public void Published(bool isRequest)
    {
        Interlocked.Increment(ref _published);
        _instruments.Published.Add(1, isRequest ? _requestToCollective : _replyToFederation);
    }

    /// <summary>A rejected message (tagged with the incoming side) or a failed publish (tagged with the outgoing side).</summary>
    public void Error(bool isRequest, string errorType, bool onOutgoingSide)
    {
        Interlocked.Increment(ref _errors);
        var tags = (isRequest, onOutgoingSide) switch
        {
            (true, false) => _requestFromFederation,
            (true, true) => _requestToCollective,
            (false, false) => _replyFromCollective,
            (false, true) => _replyToFederation,
        };
        tags.Add(FederationBrokerInstruments.ErrorTypeTag, errorType);
        _instruments.Errors.Add(1, tags);
    }

    /// <summary>Messages of one side that the incoming transport dropped before the relay saw them, tagged with that side.</summary>
    public void Dropped(bool isRequest, string reason, long count)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _errors, count);
        var tags = isRequest ? _requestFromFederation : _replyFromCollective;
        tags.Add(FederationBrokerInstruments.ErrorTypeTag, reason);
        _instruments.Errors.Add(count, tags);
    }

    public void Processed(bool isRequest, TimeSpan elapsed) =>
        _instruments.Duration.Record(elapsed.TotalSeconds, isRequest ? _requestFromFederation : _replyFromCollective);

    private static TagList Tags(string cluster, string instance, string direction, string side) => new()
    {
        { FederationBrokerInstruments.ClusterTag, cluster },
        { FederationBrokerInstruments.DirectionTag, direction },
        { FederationBrokerInstruments.InstanceTag, instance },
        { FederationBrokerInstruments.ConnectedToTag, side },
    };
}
