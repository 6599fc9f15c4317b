namespace Federation.Core.Links;

/// <summary>
/// Decides how far a link may acknowledge upstream with one <c>multiple=true</c> ack. The link tracks every delivery it
/// takes on, in delivery order, and settles each one when its outcome is final (downstream confirm, drop, or a nack that
/// was already sent). Settlements arrive out of order (confirms complete on different threads), and an ack with
/// <c>multiple</c> covers every unacknowledged delivery up to its tag, so the ack may only reach the highest tag below
/// which every tracked delivery has settled. A delivery that never settles (its forward failed) holds the ack back, so
/// it stays unacknowledged and the upstream redelivers it.
/// </summary>
/// <remarks>
/// Thread-safe. The tracked deliveries live in a ring buffer in tag order; a settlement is found by binary search,
/// which is the head itself in the common, in-order case. The buffer holds at most the unacknowledged deliveries,
/// which prefetch bounds, and grows only past that.
/// </remarks>
internal sealed class ContiguousAckTracker
{
    private const int InitialCapacity = 64;

    private readonly Lock _gate = new();
    private ulong[] _tags = new ulong[InitialCapacity];
    private bool[] _settled = new bool[InitialCapacity];
    // False for a delivery settled by a nack or reject: it is no longer outstanding, so an ack must never name its tag.
    private bool[] _ackable = new bool[InitialCapacity];
    private int _head;
    private int _count;
    private ulong _lastTracked;
    private ulong _frontier;
    private ulong _acknowledged;
    private int _frontierCount;
    private int _unsettled;

    /// <summary>Deliveries tracked and not yet covered by an ack that <see cref="TryTakeAck"/> handed out.</summary>
    public int Unacknowledged
    {
        get
        {
            lock (_gate)
            {
                return _count + _frontierCount;
            }
        }
    }

    /// <summary>Deliveries tracked whose outcome is not final yet.</summary>
    public int Unsettled
    {
        get
        {
            lock (_gate)
            {
                return _unsettled;
            }
        }
    }

    /// <summary>Whether the settled prefix grew since <see cref="TryTakeAck"/> last handed out an ack.</summary>
    public bool HasAck
    {
        get
        {
            lock (_gate)
            {
                return _frontier > _acknowledged;
            }
        }
    }

    /// <summary>Starts tracking a delivery. Tags must be strictly increasing, as a consumer's delivery tags are.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The tag is not above every tag tracked before.</exception>
    public void Track(ulong deliveryTag)
    {
        lock (_gate)
        {
            if (deliveryTag <= _lastTracked)
            {
                throw new ArgumentOutOfRangeException(nameof(deliveryTag), deliveryTag, $"Delivery tags must increase; the last tracked was {_lastTracked}.");
            }

            if (_count == _tags.Length)
            {
                Grow();
            }

            var slot = (_head + _count) % _tags.Length;
            _tags[slot] = deliveryTag;
            _settled[slot] = false;
            _ackable[slot] = true;
            _count++;
            _unsettled++;
            _lastTracked = deliveryTag;
        }
    }

    /// <summary>Marks a tracked delivery as final. Returns whether there is now something to acknowledge.</summary>
    /// <param name="deliveryTag">The delivery.</param>
    /// <param name="acknowledge">
    /// False when it was settled upstream by a nack or reject already: a later ack with <c>multiple</c> may cover it, but
    /// its own tag is never the one acknowledged, since the broker answers an ack of a tag it no longer holds with
    /// <c>406 PRECONDITION_FAILED - unknown delivery tag</c> and closes the channel.
    /// </param>
    /// <exception cref="InvalidOperationException">The tag is not tracked, or was settled before.</exception>
    public bool Settle(ulong deliveryTag, bool acknowledge = true)
    {
        lock (_gate)
        {
            var index = IndexOf(deliveryTag);
            var slot = index < 0 ? -1 : (_head + index) % _tags.Length;
            if (slot < 0 || _settled[slot])
            {
                throw new InvalidOperationException($"Delivery tag {deliveryTag} is not tracked or was settled already.");
            }

            _settled[slot] = true;
            _ackable[slot] = acknowledge;
            _unsettled--;
            while (_count > 0 && _settled[_head])
            {
                if (_ackable[_head])
                {
                    _frontier = _tags[_head];
                }

                _frontierCount++;
                _head = (_head + 1) % _tags.Length;
                _count--;
            }

            return _frontier > _acknowledged;
        }
    }

    /// <summary>
    /// Hands out the tag to acknowledge with <c>multiple=true</c>, when the settled prefix grew since the last call, and
    /// how many deliveries that ack covers. The caller must send that ack.
    /// </summary>
    public bool TryTakeAck(out ulong upToTag, out int deliveries)
    {
        lock (_gate)
        {
            upToTag = _frontier;
            deliveries = _frontierCount;
            if (_frontier <= _acknowledged)
            {
                return false;
            }

            _acknowledged = _frontier;
            _frontierCount = 0;
            return true;
        }
    }

    /// <summary>The position of a tag among the tracked deliveries (0 is the head), or -1.</summary>
    private int IndexOf(ulong deliveryTag)
    {
        if (_count == 0)
        {
            return -1;
        }

        if (_tags[_head] == deliveryTag)
        {
            return 0; // The usual case: settlements mostly arrive in order.
        }

        int low = 1, high = _count - 1;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            var tag = _tags[(_head + middle) % _tags.Length];
            if (tag == deliveryTag)
            {
                return middle;
            }

            if (tag < deliveryTag)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return -1;
    }

    private void Grow()
    {
        var tags = new ulong[_tags.Length * 2];
        var settled = new bool[tags.Length];
        var ackable = new bool[tags.Length];
        for (var i = 0; i < _count; i++)
        {
            var slot = (_head + i) % _tags.Length;
            tags[i] = _tags[slot];
            settled[i] = _settled[slot];
            ackable[i] = _ackable[slot];
        }

        _tags = tags;
        _settled = settled;
        _ackable = ackable;
        _head = 0;
    }
}
