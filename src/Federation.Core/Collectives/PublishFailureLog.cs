using Federation.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Collectives;

/// <summary>
/// Logs a broker instance's failed publishes at Warning, at most once per <see cref="Interval"/>, with how many were left
/// out since the previous warning. A request fans out to up to thousands of targets, and while a server is down every one
/// of them fails: one warning per target would flood the log. Every failure is still counted in
/// <c>federation.broker.errors</c>.
/// </summary>
internal sealed class PublishFailureLog(string cluster, string instance, ILogger logger, TimeProvider time)
{
    /// <summary>The shortest time between two warnings.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private long _lastLoggedAt;
    private bool _logged;
    private long _suppressed;

    public void Report(Exception error, string direction, string subject)
    {
        long suppressed;
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_logged && time.GetElapsedTime(_lastLoggedAt, now) < Interval)
            {
                _suppressed++;
                return;
            }

            (suppressed, _suppressed, _lastLoggedAt, _logged) = (_suppressed, 0, now, true);
        }

        CollectiveLog.PublishFailed(logger, error, cluster, instance, direction, subject, suppressed, Interval);
    }
}
