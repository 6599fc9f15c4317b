namespace Federation.Nats.Leases;

/// <summary>
/// A moment read off both clocks of a <see cref="TimeProvider"/>: the monotonic one and the wall clock. A lease measures
/// the time since its last confirmed renewal on both and believes the larger: the monotonic clock runs on through a
/// paused process but, on Linux (CLOCK_MONOTONIC), not through a suspended machine, while the key's time-to-live on the
/// server does; the wall clock runs through a suspend. Immutable, so that a reader never sees half of a newer one.
/// </summary>
internal sealed class NatsLeaseInstant
{
    private readonly long _timestamp;
    private readonly DateTimeOffset _wall;

    private NatsLeaseInstant(long timestamp, DateTimeOffset wall)
    {
        _timestamp = timestamp;
        _wall = wall;
    }

    /// <summary>Now, by <paramref name="time"/>.</summary>
    public static NatsLeaseInstant Now(TimeProvider time) => new(time.GetTimestamp(), time.GetUtcNow());

    /// <summary>
    /// How long ago this was: the larger of the two clocks' answers. A wall clock set back answers less (or a negative
    /// time), so it never shortens what the monotonic clock says; a wall clock set forward can only make a lease be given up
    /// early, the safe side.
    /// </summary>
    public TimeSpan Elapsed(TimeProvider time)
    {
        var monotonic = time.GetElapsedTime(_timestamp);
        var wall = time.GetUtcNow() - _wall;
        return wall > monotonic ? wall : monotonic;
    }
}
