namespace Federation.Core.Tests.Support;

/// <summary>A manually advanced clock whose timers fire inside <see cref="Advance"/>, for deterministic expiry tests.</summary>
internal sealed class FakeTimeProvider : TimeProvider
{
    private readonly Lock sync = new();
    private readonly List<FakeTimer> timers = [];
    private DateTimeOffset now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private int fired;
    private DateTimeOffset? lastFiredAt;

    public override DateTimeOffset GetUtcNow()
    {
        lock (sync)
        {
            return now;
        }
    }

    /// <summary>Timers that are armed and have not fired yet.</summary>
    public int PendingTimers
    {
        get
        {
            lock (sync)
            {
                return timers.Count(t => t.DueAt is not null);
            }
        }
    }

    /// <summary>How many timer callbacks <see cref="Advance"/> has run, so a test can tell whether a timer fired.</summary>
    public int FiredTimers
    {
        get
        {
            lock (sync)
            {
                return fired;
            }
        }
    }

    /// <summary>The clock's time when a timer last fired: its due time.</summary>
    public DateTimeOffset? LastFiredAt
    {
        get
        {
            lock (sync)
            {
                return lastFiredAt;
            }
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        lock (sync)
        {
            timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock forward and runs every timer that came due, in due order.</summary>
    public void Advance(TimeSpan by)
    {
        DateTimeOffset target;
        lock (sync)
        {
            target = now + by;
        }

        while (true)
        {
            FakeTimer? due;
            lock (sync)
            {
                due = timers.Where(t => t.DueAt is { } at && at <= target).MinBy(t => t.DueAt);
                if (due is null)
                {
                    now = target;
                    return;
                }

                now = due.DueAt!.Value;
                due.DueAt = due.Period is { } period ? now + period : null;
                fired++;
                lastFiredAt = now;
            }

            due.Fire();
        }
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? DueAt { get; set; }

        public TimeSpan? Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner.sync)
            {
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner.now + dueTime;
                Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner.sync)
            {
                owner.timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
