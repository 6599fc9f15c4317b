namespace Federation.Core.Tests.Support;

/// <summary>A manually advanced clock whose timers fire inside <see cref="Advance"/>, for deterministic expiry tests.</summary>
internal sealed class FakeTimeProvider : TimeProvider
{
    private readonly Lock sync = new();
    // Armed timers by due time (then creation order), so that a clock with thousands of timers (the ownership simulation)
    // finds the next due one in log time.
    private readonly SortedSet<FakeTimer> armed = new(DueOrder.Instance);
    private long created;
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
                return armed.Count;
            }
        }
    }

    /// <summary>Armed timers due exactly <paramref name="dueIn"/> from now: a test can tell that a wait of that length has begun.</summary>
    public int TimersDueIn(TimeSpan dueIn)
    {
        lock (sync)
        {
            var at = now + dueIn;
            return armed.Count(t => t.DueAt == at);
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
        FakeTimer timer;
        lock (sync)
        {
            timer = new FakeTimer(this, callback, state, ++created);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>
    /// Moves the clock in steps (a quarter second unless given), letting the code under test act on each time for a few
    /// real poll intervals, until <paramref name="condition"/> holds. Fails when the clock has moved past
    /// <paramref name="fakeLimit"/> (the behaviour took too long in its own time) or after a real-time deadline (60 s
    /// unless given), each failure with <paramref name="what"/>. Returns the fake time it took.
    /// </summary>
    public async Task<TimeSpan> AdvanceUntilAsync(
        Func<bool> condition, TimeSpan fakeLimit, Func<string> what, TimeSpan? step = null, TimeSpan? realLimit = null, int pauses = 3)
    {
        var started = GetUtcNow();
        var realDeadline = DateTime.UtcNow + (realLimit ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            // Let the code under test act on the current time before judging it.
            for (var i = 0; i < pauses; i++)
            {
                await Task.Delay(Engine.Testbed.PollInterval);
                if (condition())
                {
                    return GetUtcNow() - started;
                }
            }

            var elapsed = GetUtcNow() - started;
            Xunit.Assert.True(elapsed <= fakeLimit, $"Not within {fakeLimit.TotalSeconds} s (fake): {what()}");
            Xunit.Assert.True(DateTime.UtcNow < realDeadline, $"Timed out (real time) after {elapsed.TotalSeconds} s fake: {what()}");
            Advance(step ?? TimeSpan.FromMilliseconds(250));
        }
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
                due = armed.Count > 0 && armed.Min!.DueAt <= target ? armed.Min : null;
                if (due is null)
                {
                    now = target;
                    return;
                }

                now = due.DueAt!.Value;
                armed.Remove(due);
                due.DueAt = due.Period is { } period ? now + period : null;
                if (due.DueAt is not null)
                {
                    armed.Add(due);
                }

                fired++;
                lastFiredAt = now;
            }

            due.Fire();
        }
    }

    private sealed class DueOrder : IComparer<FakeTimer>
    {
        public static readonly DueOrder Instance = new();

        public int Compare(FakeTimer? x, FakeTimer? y) =>
            x!.DueAt!.Value.CompareTo(y!.DueAt!.Value) is var byDue and not 0 ? byDue : x.Sequence.CompareTo(y.Sequence);
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state, long sequence) : ITimer
    {
        private bool disposed;

        public long Sequence { get; } = sequence;

        public DateTimeOffset? DueAt { get; set; }

        public TimeSpan? Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner.sync)
            {
                if (disposed)
                {
                    return false;
                }

                if (DueAt is not null)
                {
                    owner.armed.Remove(this);
                }

                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner.now + dueTime;
                Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
                if (DueAt is not null)
                {
                    owner.armed.Add(this);
                }
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner.sync)
            {
                disposed = true;
                if (DueAt is not null)
                {
                    owner.armed.Remove(this);
                    DueAt = null;
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
