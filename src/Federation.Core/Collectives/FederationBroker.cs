using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Core.Collectives;

/// <summary>
/// One instance of a federation broker cluster (the Choria model): subscribes with queue group
/// <c>&lt;cluster&gt;_federation</c> on the federation and <c>&lt;cluster&gt;_collective</c> on the member collective, forwards
/// requests into the collective and replies back to the federation. Stateless: the client's reply subject travels in the
/// message, so any instance handles any reply, and instances scale out by starting more with the same cluster name.
/// When a connection is lost the instance reconnects with backoff until stopped.
/// </summary>
public sealed class FederationBroker : IAsyncDisposable
{
    private static readonly TimeSpan InitialRetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>The longest a stop waits for the messages the instance holds to be relayed.</summary>
    internal static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly FederationBrokerOptions _options;
    private readonly SubjectTransportResolver _transports;
    private readonly BrokerMetrics _metrics;
    private readonly MessageDropHandler _requestsDropped;
    private readonly MessageDropHandler _repliesDropped;
    private readonly IBrokerRelay _relay;
    private readonly ClusterRollCall _rollCall;
    private readonly string _rollCallSubject;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();

    // The failed attempts since the last connected session: the start's attempt, then the supervisor's, never at once.
    private readonly FailureEpisode _failures = new();

    // 1 while the episode began with a lost connection: the loss is recorded as the episode's first failure (its warning
    // is 4003), but it is no connect attempt, so the attempts the log counts leave it out.
    private int _lossesInEpisode;
    // Never disposed: it holds no wait handle (AvailableWaitHandle is not used), and a disposed one would turn a late
    // StartAsync, StopAsync or DisposeAsync into an ObjectDisposedException naming SemaphoreSlim.
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private BrokerSession? _session;
    private Task? _supervisor;
    private IDisposable? _gauged;
    private string? _connectError;
    private bool _stopped;
    private int _disposed;

    /// <summary>Creates an instance; nothing connects before <see cref="StartAsync"/>.</summary>
    /// <param name="options">The instance's options; validated here.</param>
    /// <param name="transports">The subject transports; the URIs' schemes pick one.</param>
    /// <param name="telemetry">Where metrics go; a private meter when null.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    /// <param name="timeProvider">Clock for processing times and reconnect delays.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message names every offending key and value.</exception>
    public FederationBroker(
        FederationBrokerOptions options,
        IEnumerable<ISubjectTransport> transports,
        FederationTelemetry? telemetry = null,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transports);
        FederationBrokerOptionsValidation.ThrowIfInvalid(options);
        _options = options;
        _transports = new SubjectTransportResolver(transports);
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory is null ? NullLoggerFactory.Instance : RedactingLoggerFactory.Wrap(loggerFactory)).CreateLogger<FederationBroker>();
        ClusterName = options.ClusterName!;
        InstanceName = options.InstanceName ?? DefaultBrokerInstanceName.Next(ClusterName);
        Subjects = FederationBrokerSubjects.For(ClusterName, options.SubjectPrefix);
        _metrics = new BrokerMetrics(telemetry ?? new FederationTelemetry(), ClusterName, InstanceName);
        _relay = BrokerRelays.Create(options, InstanceName, Subjects, _metrics, _logger, _time);
        _rollCallSubject = ClusterRollCall.SubjectFor(options.SubjectPrefix, ClusterName);
        _rollCall = new ClusterRollCall(ClusterName, InstanceName, UriRedaction.Redact(options.CollectiveUri!), _rollCallSubject, _logger, _time);

        // A message the incoming transport dropped before the relay saw it (unreadable, a full queue) is counted as a
        // rejected one of its side; the transport has logged it.
        _requestsDropped = (reason, count, _) => _metrics.Dropped(isRequest: true, reason, count);
        _repliesDropped = (reason, count, _) => _metrics.Dropped(isRequest: false, reason, count);
    }

    /// <summary>The broker cluster this instance belongs to.</summary>
    public string ClusterName { get; }

    /// <summary>This instance's name.</summary>
    public string InstanceName { get; }

    /// <summary>The subjects and queue groups the instance subscribes to.</summary>
    public FederationBrokerSubjects Subjects { get; }

    /// <summary>
    /// True while both connections are up and subscribed. False while a transport that reconnects on its own (NATS) is
    /// reconnecting one of them: messages taken meanwhile cannot be forwarded.
    /// </summary>
    public bool IsConnected => Volatile.Read(ref _session) is { } session && session.Federation.ConnectedServer is not null && session.Collective.ConnectedServer is not null;

    /// <summary>
    /// Why the last connect attempt failed, or which connection is reconnecting (the transport's message and the redacted
    /// URI, never credentials); null while connected. While it is set the instance keeps retrying.
    /// </summary>
    public string? ConnectError => Volatile.Read(ref _session) is { } session ? Reconnecting(session) : Volatile.Read(ref _connectError);

    /// <summary>
    /// What the announcements of the cluster's instances show to be wrong, or null: another instance of the cluster that
    /// serves another collective (its announcements reach this instance on the federation but not on the collective), or
    /// another process under this instance's <see cref="InstanceName"/>. Without credentials; the health check reports it as
    /// degraded.
    /// </summary>
    public string? ClusterProblem => _rollCall.Problem;

    /// <summary>Roll-call announcements of other instances this one has handled, both servers' copies counted.</summary>
    internal long RollCallCopiesHeard => _rollCall.CopiesHeard;

    /// <summary>What this instance has handled so far.</summary>
    public FederationBrokerStatistics Statistics => _metrics.Snapshot();

    /// <summary>
    /// Connects both sides and subscribes; afterwards reconnects on its own when a connection is lost. A server that cannot be
    /// reached (a <see cref="TransportException"/>) does not fail the start: the instance retries in the background with the
    /// same backoff as after a lost connection (1 s, doubling up to 30 s), <see cref="IsConnected"/> stays false and
    /// <see cref="ConnectError"/> says why, so a health check reports it while the host runs.
    /// </summary>
    /// <param name="cancellationToken">Cancels the first connect attempt.</param>
    /// <exception cref="ArgumentException">A URI can never work: no transport serves its scheme, or it is malformed.</exception>
    /// <exception cref="InvalidOperationException">Already started or stopped.</exception>
    /// <exception cref="ObjectDisposedException">The instance was disposed.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (_supervisor is not null || _stopped)
            {
                throw new InvalidOperationException($"Federation broker '{ClusterName}' instance '{InstanceName}' was already started.");
            }

            var connected = false;
            try
            {
                Volatile.Write(ref _session, await OpenAsync(cancellationToken).ConfigureAwait(false));
                connected = true;
            }
            catch (TransportException error) when (!cancellationToken.IsCancellationRequested)
            {
                // A server that is down now may be up in a minute: retry in the background instead of failing the host.
                Volatile.Write(ref _connectError, UriRedaction.RedactText(error.Message));
                AttemptFailed(error, InitialRetryDelay);
            }

            _supervisor = Task.Run(() => SuperviseAsync(connected, _stopping.Token), CancellationToken.None);
            _gauged = _metrics.Running(() => IsConnected);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Unsubscribes (the other instances of the cluster take over new messages), relays what the instance already received
    /// (its subscriptions drain, for at most 5 s), and closes both connections. Messages still held when that time is up or
    /// <paramref name="cancellationToken"/> fires are lost (at-most-once) and counted as <c>stopped</c>.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for the held messages to be relayed, and for the running handlers.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            _gauged?.Dispose();
            await _stopping.CancelAsync().ConfigureAwait(false);
            if (_supervisor is not null)
            {
                await _supervisor.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            var session = Interlocked.Exchange(ref _session, null);
            if (session is not null)
            {
                // Unsubscribe first, so the cluster's other instances take new messages, and relay what this instance
                // already holds (on NATS, the messages queued behind the one being relayed) before the connections close.
                using (var drainTimeout = new CancellationTokenSource(DrainTimeout, _time))
                using (var draining = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, drainTimeout.Token))
                {
                    await session.DrainAsync(draining.Token).ConfigureAwait(false);
                }

                await session.DisposeAsync().ConfigureAwait(false);
            }

            // Nothing is relayed any more: failed publishes still untold go before the stop's line.
            _relay.Stopped();
            if (session is not null)
            {
                CollectiveLog.BrokerStopped(_logger, ClusterName, InstanceName);
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops the instance as <see cref="StopAsync"/> does. Calling it again does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task<BrokerSession> OpenAsync(CancellationToken cancellationToken)
    {
        var federation = await _transports.ConnectAsync(_options.FederationUri!, ConnectionName("federation"), cancellationToken).ConfigureAwait(false);
        BrokerSession? session = null;
        try
        {
            var collective = await _transports.ConnectAsync(_options.CollectiveUri!, ConnectionName("collective"), cancellationToken).ConfigureAwait(false);
            session = new BrokerSession(federation, collective);
            var opened = session;

            // Replies first: a request forwarded by another instance may already be answered. A no-responders notice is no
            // reply: the servers send none to a queue subscription (a request forwarded to a node that is down brings none),
            // and a transport that did must not have it relayed and counted as malformed.
            for (var worker = 0; worker < _options.Workers; worker++)
            {
                opened.Add(await collective.SubscribeAsync(Subjects.Collective, Subjects.CollectiveQueueGroup,
                    (message, token) => message.IsNoResponders ? ValueTask.CompletedTask : _relay.RelayReplyAsync(message, opened.Federation, opened.Collective, token), _repliesDropped, cancellationToken).ConfigureAwait(false));
            }

            for (var worker = 0; worker < _options.Workers; worker++)
            {
                opened.Add(await federation.SubscribeAsync(Subjects.Federation, Subjects.FederationQueueGroup,
                    (message, token) => _relay.RelayRequestAsync(message, opened.Federation, opened.Collective, token), _requestsDropped, cancellationToken).ConfigureAwait(false));
            }

            // The roll call of the cluster's instances: every instance hears every other on both servers, or they serve
            // different collectives.
            opened.Add(await collective.SubscribeAsync(_rollCallSubject, null, (message, _) => Heard(message, onFederation: false), cancellationToken).ConfigureAwait(false));
            opened.Add(await federation.SubscribeAsync(_rollCallSubject, null, (message, _) => Heard(message, onFederation: true), cancellationToken).ConfigureAwait(false));

            await collective.FlushAsync(cancellationToken).ConfigureAwait(false);
            await federation.FlushAsync(cancellationToken).ConfigureAwait(false);
            opened.Run(closing => AnnounceAsync(opened, closing));
            CollectiveLog.BrokerRunning(_logger, ClusterName, InstanceName, federation.DisplayUri, Subjects.Federation, collective.DisplayUri, Subjects.Collective);
            return session;
        }
        catch
        {
            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await federation.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    private ValueTask Heard(SubjectMessage message, bool onFederation)
    {
        _rollCall.Heard(message.Body.Span, onFederation);
        return ValueTask.CompletedTask;
    }

    /// <summary>Announces this instance on both servers once per <see cref="ClusterRollCall.Interval"/> while the session lasts.</summary>
    private async Task AnnounceAsync(BrokerSession session, CancellationToken closing)
    {
        while (!closing.IsCancellationRequested)
        {
            var connected = session.Federation.ConnectedServer is not null && session.Collective.ConnectedServer is not null;
            _rollCall.Tick(connected);
            if (connected)
            {
                var body = _rollCall.NextAnnouncement(session.Collective.ConnectedServer);
                try
                {
                    // The collective first, and the federation only if that worked: an announcement the others hear on the
                    // federation alone is what a mismatch looks like.
                    await session.Collective.PublishAsync(new SubjectMessage(_rollCallSubject, body), closing).ConfigureAwait(false);
                    await session.Federation.PublishAsync(new SubjectMessage(_rollCallSubject, body), closing).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // a connection being lost or closed: the next round tries again, the supervisor handles the loss
                catch (Exception) when (!closing.IsCancellationRequested)
#pragma warning restore CA1031
                {
                }
            }

            if (!await DelayAsync(ClusterRollCall.Interval, closing).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Which side of an open session is reconnecting, or null when both are connected.</summary>
    private static string? Reconnecting(BrokerSession session) =>
        session.Federation.ConnectedServer is null ? $"the federation connection {session.Federation.DisplayUri} is reconnecting"
        : session.Collective.ConnectedServer is null ? $"the collective connection {session.Collective.DisplayUri} is reconnecting"
        : null;

    private string ConnectionName(string side) => $"federation-broker {ClusterName}/{InstanceName} ({side})";

    private async Task SuperviseAsync(bool connected, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            if (connected)
            {
                var session = Volatile.Read(ref _session)!;
                try
                {
                    await session.Ended.WaitAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }

                var lost = session.Federation.Completion.Exception?.InnerException ?? session.Collective.Completion.Exception?.InnerException;
                CollectiveLog.BrokerConnectionLost(_logger, ClusterName, InstanceName, lost is null ? "a connection was closed" : FailureEpisode.Describe(lost));

                // The loss was the episode's warning: failed reconnects stay at debug until the summary.
                _failures.Fail();
                _lossesInEpisode = 1;
                Volatile.Write(ref _connectError, lost is null ? "a connection was closed" : UriRedaction.RedactText(lost.Message));
                Volatile.Write(ref _session, null);
                await session.DisposeAsync().ConfigureAwait(false);
            }

            // After a lost connection the first attempt is immediate; after a failed start it waits the first delay.
            if (!await ReconnectAsync(waitFirst: !connected, stopping).ConfigureAwait(false))
            {
                return;
            }

            connected = true;
        }
    }

    /// <summary>Opens a session, retrying with backoff; false when stopped first.</summary>
    private async Task<bool> ReconnectAsync(bool waitFirst, CancellationToken stopping)
    {
        var delay = InitialRetryDelay;
        if (waitFirst)
        {
            if (!await DelayAsync(delay, stopping).ConfigureAwait(false))
            {
                return false;
            }

            delay = NextDelay(delay);
        }

        while (true)
        {
            try
            {
                Volatile.Write(ref _session, await OpenAsync(stopping).ConfigureAwait(false));
                Volatile.Write(ref _connectError, null);
                if (_failures.Up() is var failures and > 0)
                {
                    CollectiveLog.BrokerReconnected(_logger, ClusterName, InstanceName, failures - _lossesInEpisode);
                }

                _failures.End();
                _lossesInEpisode = 0;
                return true;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception error) when (!stopping.IsCancellationRequested)
            {
                Volatile.Write(ref _connectError, UriRedaction.RedactText(error.Message));
                AttemptFailed(error, delay);
                if (!await DelayAsync(delay, stopping).ConfigureAwait(false))
                {
                    return false;
                }

                delay = NextDelay(delay);
            }
        }
    }

    /// <summary>Logs a failed connect attempt: a one-line warning with the cause once per episode, every attempt at debug.</summary>
    private void AttemptFailed(Exception error, TimeSpan delay)
    {
        var step = _failures.Fail();
        var attempts = _failures.Failures - _lossesInEpisode;
        CollectiveLog.BrokerConnectAttemptFailed(_logger, error, ClusterName, InstanceName, attempts, delay);
        switch (step)
        {
            case FailureLogStep.Started:
                CollectiveLog.BrokerConnectFailed(_logger, ClusterName, InstanceName, FailureEpisode.Describe(error), delay);
                break;
            case FailureLogStep.Summary:
                CollectiveLog.BrokerStillFailing(_logger, ClusterName, InstanceName, attempts, FailureEpisode.Describe(error), delay);
                break;
            case FailureLogStep.Quiet:
                break;
        }
    }

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(delay, _time, stopping).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static TimeSpan NextDelay(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
}
