using System.Collections.Concurrent;

namespace Federation.Nats.JetStream;

/// <summary>
/// The <see cref="JetStreamAckFloor"/> of every durable consumer the links of one transport attached, for as long as the
/// transport lives (the process): a link opens a new connection for every attempt, and the attempt after a consumer was
/// deleted by hand must know where the deleted one had got to.
/// </summary>
/// <remarks>
/// Keyed by stream, consumer and the time the stream was created: a stream deleted and created again numbers from 1
/// again, and the floor of its former incarnation means nothing in it; the creation time also tells apart streams of the
/// same name on different servers.
/// </remarks>
internal sealed class JetStreamAckFloors
{
    private readonly ConcurrentDictionary<(string Stream, string Consumer, DateTimeOffset Created), JetStreamAckFloor> _floors = new();

    /// <summary>The floor of a consumer this process attached before on this incarnation of the stream, or null.</summary>
    public JetStreamAckFloor? Find(string stream, string consumer, DateTimeOffset streamCreated) =>
        _floors.TryGetValue((stream, consumer, streamCreated), out var floor) ? floor : null;

    /// <summary>
    /// Records an attach of the consumer: a known floor takes the server's ack floor, and a consumer seen for the first
    /// time starts at it, with what the server had delivered unacknowledged not yet known (see <see cref="JetStreamAckFloor"/>).
    /// </summary>
    public JetStreamAckFloor Attach(string stream, string consumer, DateTimeOffset streamCreated, ulong serverAckFloor, ulong serverDelivered)
    {
        var floor = _floors.GetOrAdd((stream, consumer, streamCreated), _ => new JetStreamAckFloor(serverAckFloor, serverDelivered));
        floor.Attached(serverAckFloor);
        return floor;
    }

    /// <summary>Forgets a consumer the link deleted itself: a queue declared again later starts afresh, as a new one.</summary>
    public void Forget(string consumer, string? stream)
    {
        foreach (var key in _floors.Keys)
        {
            if (key.Consumer == consumer && (stream is null || key.Stream == stream))
            {
                _floors.TryRemove(key, out _);
            }
        }
    }
}
