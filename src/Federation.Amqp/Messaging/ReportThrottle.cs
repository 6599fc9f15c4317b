namespace Federation.Amqp.Messaging;

/// <summary>
/// Lets one report through at once and then at most one per <see cref="Interval"/>, counting what it held back, so that a
/// flood of the same event (say a publisher sending nothing but unreadable messages) cannot flood the log.
/// </summary>
internal sealed class ReportThrottle(TimeSpan interval, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _reportedAt;
    private long _unreported;

    /// <summary>The least time between two reports.</summary>
    public TimeSpan Interval { get; } = interval;

    /// <summary>True when this occurrence is to be reported, with how many were held back since the last report.</summary>
    public bool TryReport(out long heldBack)
    {
        // A timestamp of 0 means "never reported": the clock's own 0 is long past by the first report.
        var now = Math.Max(1, _time.GetTimestamp());
        var last = Interlocked.Read(ref _reportedAt);
        if ((last != 0 && _time.GetElapsedTime(last, now) < Interval) || Interlocked.CompareExchange(ref _reportedAt, now, last) != last)
        {
            Interlocked.Increment(ref _unreported);
            heldBack = 0;
            return false;
        }

        heldBack = Interlocked.Exchange(ref _unreported, 0);
        return true;
    }
}
