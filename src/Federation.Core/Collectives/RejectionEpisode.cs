using Federation.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Collectives;

/// <summary>
/// Rejected messages (malformed, over a limit, a target or reply subject the guard refuses) told once per episode: the
/// first at Warning (event 4020) with its direction, subject, error type and detail, the rest only counted (and logged at
/// Debug, 4005, each), and the episode's end at Information (4021) with the count once <see cref="QuietPeriod"/> passed
/// without a rejection, or at the instance's stop. Anything that can publish to the broker's subjects chooses how many
/// such messages arrive: one warning each would flood the log, none at all (as before 7 Dec 2026, Debug only) left an
/// operator with a counter and no example of what was refused. Thread-safe.
/// </summary>
internal sealed class RejectionEpisode(string cluster, string instance, ILogger logger, TimeProvider time)
{
    /// <summary>How long without a rejection ends an episode.</summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(60);

    private readonly Lock _lock = new();
    private long _count;
    private long _lastAt;
    private ITimer? _end;

    /// <summary>A message was rejected; the subject and detail are already escaped.</summary>
    public void Rejected(string direction, string subject, string errorType, string detail)
    {
        lock (_lock)
        {
            _lastAt = time.GetTimestamp();
            if (_count++ > 0)
            {
                return;
            }

            _end = time.CreateTimer(_ => Check(), null, QuietPeriod, Timeout.InfiniteTimeSpan);
        }

        // The template ends the detail with its own period.
        CollectiveLog.RejectionsStarted(logger, cluster, instance, direction, subject, errorType, detail.TrimEnd('.'), QuietPeriod);
    }

    /// <summary>The instance stopped: an open episode ends now, with its count.</summary>
    public void Stopped() => End();

    private void Check()
    {
        lock (_lock)
        {
            var quiet = time.GetElapsedTime(_lastAt);
            if (_count == 0)
            {
                return;
            }

            if (quiet < QuietPeriod)
            {
                _end?.Change(QuietPeriod - quiet, Timeout.InfiniteTimeSpan);
                return;
            }
        }

        End();
    }

    private void End()
    {
        long count;
        lock (_lock)
        {
            (count, _count) = (_count, 0);
            _end?.Dispose();
            _end = null;
        }

        if (count == 0)
        {
            return;
        }

        try
        {
            CollectiveLog.RejectionsEnded(logger, cluster, instance, count, QuietPeriod);
        }
#pragma warning disable CA1031 // On a timer's thread, possibly after the host's logger was disposed: it must not end the process.
        catch (Exception)
#pragma warning restore CA1031
        {
            // The rejections are counted in the metrics all the same.
        }
    }
}
