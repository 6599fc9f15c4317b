namespace Federation.Core.Links;

/// <summary>
/// One episode of trouble on a link (lost or refused messages), so that an episode is logged once when it opens and once,
/// with its count, when it ends, however many events it holds. It opens with its first event, and it ends only once the
/// link has gone on forwarding for <see cref="SettlePeriod"/> after its last event (measured on the engine's
/// <see cref="TimeProvider"/>), or when the link stops. Ending at the first forwarded message instead made every event of
/// traffic where events and forwards interleave (a message whose <c>user_id</c> the downstream user may not claim among
/// ones it may, a too-large message among small ones) an episode of its own: a warning and an end line per message.
/// Events during the settle period extend the episode and are counted in it; an event after it, once the link forwarded,
/// opens a new one. A link that only has events and never forwards stays in one episode.
/// <para>
/// The sessions of a link (and the client threads that report to them) share one. Outside an episode, or inside one once
/// the link forwarded after its last event, a forwarded message costs two volatile reads; the rest takes a lock, and the
/// end of an episode is reported under it, so its line comes before the line of the next episode's first event.
/// </para>
/// </summary>
internal sealed class LossEpisode
{
    /// <summary>
    /// How long a link must go on forwarding, without a further event, for an episode to end (10 s): long enough that
    /// events scattered through traffic make one episode, short enough that the end line follows recovery promptly.
    /// </summary>
    public static readonly TimeSpan SettlePeriod = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time;
    private readonly Action<long, bool> _ended;
    private readonly Lock _gate = new();
    private ITimer? _settle;
    private long _count;
    private long _lastEventAt;
    private volatile bool _open;
    private volatile bool _forwardedSinceEvent;

    /// <param name="time">The clock of the settle period.</param>
    /// <param name="ended">
    /// Reports the end of an episode with its count, and whether the link forwarded after the episode's last event (false
    /// only when the link stopped before it forwarded again). Called under the episode's lock, from any thread (a forward,
    /// an event, the settle timer, the stop): it must not call back into the episode.
    /// </param>
    public LossEpisode(TimeProvider time, Action<long, bool> ended)
    {
        _time = time;
        _ended = ended;
    }

    /// <summary>Adds <paramref name="count"/> events; true when they opened the episode.</summary>
    public bool Add(long count)
    {
        lock (_gate)
        {
            var now = _time.GetTimestamp();

            // The settle timer is due but has not run yet (a loaded machine): the last episode is over all the same.
            if (_open && _forwardedSinceEvent && _time.GetElapsedTime(_lastEventAt, now) >= SettlePeriod)
            {
                End();
            }

            _count += count;
            _lastEventAt = now;
            _forwardedSinceEvent = false;
            if (_open)
            {
                return false;
            }

            _open = true;
            return true;
        }
    }

    /// <summary>Called for every forwarded message: starts the settle period of an open episode, or ends it if that has passed.</summary>
    public void Forwarded()
    {
        if (!_open || _forwardedSinceEvent)
        {
            return;
        }

        lock (_gate)
        {
            if (!_open || _forwardedSinceEvent)
            {
                return;
            }

            _forwardedSinceEvent = true;
            SettleOrWait();
        }
    }

    /// <summary>
    /// The link stopped: an open episode ends now (the link's drops may go on counting in the link that replaces it, which
    /// opens an episode of its own).
    /// </summary>
    public void Stopped()
    {
        lock (_gate)
        {
            _settle?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (_open)
            {
                End();
            }
        }
    }

    private void OnSettleTimer()
    {
        lock (_gate)
        {
            // An event since the timer was set restarted the period; the next forward sets the timer again.
            if (_open && _forwardedSinceEvent)
            {
                SettleOrWait();
            }
        }
    }

    private void SettleOrWait()
    {
        var left = SettlePeriod - _time.GetElapsedTime(_lastEventAt);
        if (left <= TimeSpan.Zero)
        {
            End();
            return;
        }

        if (_settle is null)
        {
            // Not the ExecutionContext of the forward that happens to set it (its activity, its log scopes): the end line
            // belongs to no message.
            using (ExecutionContext.IsFlowSuppressed() ? default(AsyncFlowControl?) : ExecutionContext.SuppressFlow())
            {
                _settle = _time.CreateTimer(static state => ((LossEpisode)state!).OnSettleTimer(), this, left, Timeout.InfiniteTimeSpan);
            }
        }
        else
        {
            _settle.Change(left, Timeout.InfiniteTimeSpan);
        }
    }

    private void End()
    {
        var count = _count;
        var forwarded = _forwardedSinceEvent;
        _count = 0;
        _open = false;
        _forwardedSinceEvent = false;
        _ended(count, forwarded);
    }
}
