namespace Federation.Nats.Tests.Leases;

/// <summary>
/// The system's clocks, each moved on by hand: the wall clock (<see cref="TimeProvider.GetUtcNow"/>) and the monotonic one
/// (<see cref="TimeProvider.GetTimestamp"/>) separately, as a suspend (wall only) or a pause (both; or monotonic only when
/// the wall clock is also set back) moves them. Timers stay the system's.
/// </summary>
internal sealed class TwoClocks : TimeProvider
{
    private long _wallTicks;
    private long _monotonicTicks;

    public void Advance(TimeSpan wall, TimeSpan monotonic)
    {
        Interlocked.Add(ref _wallTicks, wall.Ticks);
        Interlocked.Add(ref _monotonicTicks, monotonic.Ticks);
    }

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _wallTicks));

    public override long GetTimestamp() =>
        System.GetTimestamp() + (long)(Interlocked.Read(ref _monotonicTicks) * (double)System.TimestampFrequency / TimeSpan.TicksPerSecond);

    public override long TimestampFrequency => System.TimestampFrequency;
}
