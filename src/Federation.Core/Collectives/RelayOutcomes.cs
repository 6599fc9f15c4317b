using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Collectives;

/// <summary>
/// How a broker instance's relays (the native one and Choria's) measure, publish and reject, and report it: every
/// outcome is counted in <c>federation.broker.*</c>; a rejection is logged at Debug with the quoted detail escaped; a failed publish
/// is logged at Warning (event 4006) at most once per <see cref="Interval"/>. A request fans out to up to thousands of
/// targets, and while a server is down every one of them fails: one warning per target would flood the log. The failures
/// left out are told at the end of their interval (event 4011, one line per interval while they go on), not with the
/// next warning, which may come much later or never.
/// </summary>
internal sealed class RelayOutcomes(string cluster, string instance, BrokerMetrics metrics, ILogger logger, TimeProvider time)
{
    /// <summary>The shortest time between two publish-failure warnings.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private long _lastLoggedAt;
    private bool _logged;
    private long _suppressed;
    private ITimer? _summary;
    private RejectionEpisode? _rejections;

    // Created with the first rejection (a field initializer cannot use the constructor's parameters that methods capture).
    private RejectionEpisode Rejections => LazyInitializer.EnsureInitialized(ref _rejections, () => new RejectionEpisode(cluster, instance, logger, time));

    /// <summary>Starts the pass of one message through the relay: dispose the result when the message is done with.</summary>
    public RelayMeasurement Measure(bool isRequest) => new(metrics, time, isRequest);

    /// <summary>Publishes once, no retry, as in Choria: the client sees a missing reply before its timeout (at-most-once).</summary>
    public async ValueTask PublishAsync(ISubjectConnection connection, SubjectMessage message, bool isRequest, CancellationToken cancellationToken)
    {
        try
        {
            await connection.PublishAsync(message, cancellationToken).ConfigureAwait(false);
            metrics.Published(isRequest);
        }
        catch (ArgumentException refused)
        {
            // The transport's own limits, beyond the guard's (an AMQP routing key or header name is at most 255 bytes): that
            // message can never be sent, the connection is fine. Dropped and counted as such, not as a failed publish, which
            // would read as a connection problem and log a stack for what a hostile client chose.
            Reject(isRequest, message.Subject, BrokerErrorTypes.Unsendable, refused.Message, onOutgoingSide: true);
        }
        catch (PublishNackedException refused)
        {
            // The outgoing server refused this message and no other (NATS: a body over its max_payload, which a client may
            // send when the other side's server allows more): the same case, a message that can never be sent there.
            Reject(isRequest, message.Subject, BrokerErrorTypes.Unsendable, refused.Message, onOutgoingSide: true);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The instance stops (or lost its connection for good) in the middle of this publish: the message is lost, as any
            // it held, and counted as such; the relay stops here.
            metrics.Error(isRequest, BrokerErrorTypes.Stopped, onOutgoingSide: true);
            throw;
        }
        catch (Exception error)
        {
            // Reported, then counted: whoever sees the count (a test that waits for it, then moves the clock) sees the
            // report's interval begun too. Counted in any case.
            try
            {
                ReportPublishFailure(error, Direction(isRequest), message.Subject);
            }
            finally
            {
                metrics.Error(isRequest, BrokerErrorTypes.PublishFailed, onOutgoingSide: true);
            }
        }
    }

    /// <summary>Counts and logs a message refused before anything was published.</summary>
    public void Reject(bool isRequest, string subject, string errorType, string detail) => Reject(isRequest, subject, errorType, detail, onOutgoingSide: false);

    private void Reject(bool isRequest, string subject, string errorType, string detail, bool onOutgoingSide)
    {
        metrics.Error(isRequest, errorType, onOutgoingSide);
        // The detail quotes the message (subjects, ids): escaped, so that it cannot forge log lines.
        var (shownSubject, shownDetail) = (PrintableText.Escape(subject), PrintableText.Escape(detail));
        CollectiveLog.MessageRejected(logger, cluster, instance, Direction(isRequest), shownSubject, errorType, shownDetail);
        Rejections.Rejected(Direction(isRequest), shownSubject, errorType, shownDetail);
    }

    private void ReportPublishFailure(Exception error, string direction, string subject)
    {
        long suppressed;
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var elapsed = time.GetElapsedTime(_lastLoggedAt, now);
            if (_logged && elapsed < Interval)
            {
                _suppressed++;
                _summary ??= time.CreateTimer(_ => Summarise(), null, Interval - elapsed, Timeout.InfiniteTimeSpan);
                return;
            }

            (suppressed, _suppressed, _lastLoggedAt, _logged) = (_suppressed, 0, now, true);
        }

        CollectiveLog.PublishFailed(logger, error, cluster, instance, direction, subject, suppressed, Interval);
    }

    /// <summary>
    /// The instance stopped: failures left out of the current interval are told now, with the stop, rather than by a timer
    /// up to one interval after it (when the host's logger may be gone), and the timer goes.
    /// </summary>
    public void Stopped()
    {
        Summarise();
        Volatile.Read(ref _rejections)?.Stopped();
    }

    /// <summary>
    /// The end of an interval in which failures were left out: tells how many, and starts the next interval, so that an
    /// outage that goes on is told once per interval. On the timer's thread, or at the stop.
    /// </summary>
    private void Summarise()
    {
        long count;
        lock (_lock)
        {
            (count, _suppressed) = (_suppressed, 0);
            _summary?.Dispose();
            _summary = null;
            _lastLoggedAt = time.GetTimestamp();
        }

        if (count == 0)
        {
            return;
        }

        try
        {
            CollectiveLog.PublishFailuresSummarised(logger, cluster, instance, count, Interval);
        }
#pragma warning disable CA1031 // On a timer's thread, up to one interval after the broker stopped: a logger that throws (disposed with the host) must not end the process.
        catch (Exception)
#pragma warning restore CA1031
        {
            // Nothing to tell it to; the failures are counted in the metrics all the same.
        }
    }

    private static string Direction(bool isRequest) => isRequest ? BrokerMetrics.Request : BrokerMetrics.Reply;
}
