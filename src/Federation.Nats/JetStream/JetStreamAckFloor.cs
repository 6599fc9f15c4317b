namespace Federation.Nats.JetStream;

/// <summary>
/// How far a link has settled one durable consumer of one incarnation of a stream, as this process saw it: the highest
/// stream sequence at or below which every message is acknowledged (forwarded and confirmed downstream, or dropped on
/// purpose). When the consumer is deleted by hand, the link creates it again right after that sequence (see
/// <see cref="JetStreamAckFloors"/>), so nothing still in the stream is skipped.
/// </summary>
/// <remarks>
/// <para>It starts at the server's ack floor when the link attaches the consumer, and only moves on by what this process
/// settles itself: a message taken on but not settled (in flight, nak'ed, or left to the ack wait by a session that ended)
/// holds it back until a later delivery of that message is settled, so the floor never passes a message the downstream
/// has not confirmed. A message that vanishes from the stream unsettled (its limits removed it) holds it back for good,
/// which costs redeliveries after a re-creation, never a loss.</para>
/// <para>Messages the server had delivered but not seen acknowledged when this process first attached (a crashed
/// process's, waiting for their ack wait) are not known here one by one: until the server's ack floor, looked up at a
/// later attach or when the consumer's heartbeats stop, is past them, the floor is the server's as last looked up.</para>
/// </remarks>
internal sealed class JetStreamAckFloor
{
    private readonly Lock _lock = new();
    private readonly SortedSet<ulong> _outstanding = [];
    private readonly ulong _unknownUpTo;
    private ulong _serverFloor;
    private ulong _highestSeen;

    /// <param name="serverAckFloor">The consumer's ack floor (stream sequence) when this process first attached it.</param>
    /// <param name="serverDelivered">The last stream sequence the server had delivered then.</param>
    public JetStreamAckFloor(ulong serverAckFloor, ulong serverDelivered)
    {
        _serverFloor = serverAckFloor;
        _unknownUpTo = serverDelivered;
    }

    /// <summary>The highest stream sequence at or below which every message is settled.</summary>
    public ulong Floor
    {
        get
        {
            lock (_lock)
            {
                if (_serverFloor < _unknownUpTo)
                {
                    return _serverFloor;
                }

                var seen = _highestSeen == 0 ? 0 : _outstanding.Count == 0 ? _highestSeen : _outstanding.Min - 1;
                return Math.Max(_serverFloor, seen);
            }
        }
    }

    /// <summary>The server's ack floor at a later attach: it settles what was delivered before this process first looked.</summary>
    public void Attached(ulong serverAckFloor)
    {
        lock (_lock)
        {
            _serverFloor = Math.Max(_serverFloor, serverAckFloor);
        }
    }

    /// <summary>A message the consumer took on (before it is settled, or handed to the engine).</summary>
    public void Delivered(ulong streamSequence)
    {
        lock (_lock)
        {
            _outstanding.Add(streamSequence);
            _highestSeen = Math.Max(_highestSeen, streamSequence);
        }
    }

    /// <summary>A message acknowledged or terminated: it never needs delivering again.</summary>
    public void Settled(ulong streamSequence)
    {
        lock (_lock)
        {
            _outstanding.Remove(streamSequence);
        }
    }
}
