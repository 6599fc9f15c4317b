namespace Federation.Core.Links;

/// <summary>
/// How long an engine stop waits for the downstream, in all: one drain timeout from the moment the stop began, on the
/// engine's clock, then one short grace. Every step of the stop that waits for the downstream shares it: the links'
/// forwards in flight, unit loops, ledgers and publishers, then the lease releases, saying "leaving" and the connection's
/// close. A downstream that blocks publishing (a memory or disk alarm) answers none of them until the alarm clears; with a
/// bound of their own each, the lease release (5 s), saying "leaving" (2 s) and the close (2 s) came on top of the links'
/// drain timeout, and such a stop took 14 s. What a step does not finish by then goes on in the background.
/// </summary>
internal sealed class StopDeadline
{
    /// <summary>How long a stop waits for the downstream (a link's drain timeout).</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What the steps that begin once the deadline has passed still get, together: when the upstream side of the links used
    /// the time (an upstream that does not answer has bounds of its own), a downstream that answers at once is not cut off,
    /// and its connection's close is not reported as abandoned.
    /// </summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(500);

    private readonly TimeProvider _time;
    private Task? _grace;

    /// <summary>Starts the deadline now, by <paramref name="time"/>.</summary>
    public StopDeadline(TimeProvider time)
    {
        _time = time;
        Passed = Task.Delay(DrainTimeout, time);
    }

    /// <summary>Completes when the deadline has passed.</summary>
    public Task Passed { get; }

    /// <summary>
    /// Until when a step that begins now may wait for the downstream: the deadline, or, once it has passed, the end of the
    /// one <see cref="Grace"/> that starts with the first step to ask after it. Any thread.
    /// </summary>
    public Task Limit()
    {
        if (!Passed.IsCompleted)
        {
            return Passed;
        }

        if (Volatile.Read(ref _grace) is { } grace)
        {
            return grace;
        }

        var started = Task.Delay(Grace, _time);
        return Interlocked.CompareExchange(ref _grace, started, null) ?? started;
    }

    /// <summary>
    /// Waits for <paramref name="work"/> until <see cref="Limit"/>; returns whether it finished. Work that did not goes on in
    /// the background, its failure observed.
    /// </summary>
    public async Task<bool> WaitAsync(Task work)
    {
        if (!work.IsCompleted)
        {
            await Task.WhenAny(work, Limit()).ConfigureAwait(false);
        }

        if (work.IsCompleted)
        {
            await work.ConfigureAwait(false);
            return true;
        }

        _ = work.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return false;
    }
}
