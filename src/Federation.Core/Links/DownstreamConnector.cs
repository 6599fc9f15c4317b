using Federation.Core.Diagnostics;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The supervisor's downstream connection: connects in the background, retries with backoff, notices the loss, and
/// publishes the live session to the links through <see cref="Handle"/>. What a fresh connection is used for (topology,
/// links) is the supervisor's business: <c>connected</c> is called on the loop with each one, and <c>released</c> whenever
/// the session goes away (once <see cref="Session"/> is null).
/// </summary>
/// <remarks>Loop only, except the members that say otherwise.</remarks>
internal sealed class DownstreamConnector
{
    // The downstream connection retries like a link with the default reconnect keys: at once, then exponentially from
    // 5 s up to a minute, with jitter. A session that stayed up this long counts as progress and resets the schedule.
    private static readonly TimeSpan RetryDelay = ResolvedUpstream.DefaultReconnectDelay;

    // How long closing the downstream connection may wait for the broker (as long as saying "leaving" may, by default):
    // everything the links had to do there is done by then.
    private static readonly TimeSpan CloseWithin = TimeSpan.FromSeconds(2);

    private readonly SupervisorLoop _loop;
    private readonly TransportResolver _transports;
    private readonly Func<FederationDefinitions> _definitions;
    private readonly bool _observeTopology;
    private readonly Func<int, string, IBrokerConnection, Task> _connected;
    private readonly Action _released;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationToken _stopping;
    private readonly FailureEpisode _failures = new();
    private readonly ReconnectBackoff _backoff = new(ReconnectBackoffMode.Exponential, RetryDelay, ResolvedUpstream.DefaultReconnectDelayMax);
    private DownstreamSession? _session;
    private DateTimeOffset _sessionSince;
    private volatile string? _lastError;
    // The broker's reason while the current attempt's connection is blocked, and since when; written by the transport's thread.
    private volatile BlockedSince? _blocked;
    // Why the session's connection cannot observe the downstream's topology (see ConnectionRequest.TopologyUnobserved), or null.
    private volatile string? _unobserved;

    // The downstream URI, the configured cluster name and the effective one of the last session adopted: a new session with
    // the same configuration under another name (a server that names itself anew) is said, never silent.
    private (string Uri, string? Configured, string ClusterName)? _lastIdentity;

    // The connect attempt in flight, and the wait before the next one. Both run off the loop, so that a downstream that
    // never answers holds up neither reconfiguration, nor restarts, nor stop; only the loop touches them.
    private volatile CancellationTokenSource? _connectAttempt;
    private CancellationTokenSource? _retryWait;

    /// <param name="loop">The supervisor's loop, where attempts report back.</param>
    /// <param name="transports">Resolves the downstream URI to its transport.</param>
    /// <param name="definitions">The current definitions: the downstream URI and the configured cluster name.</param>
    /// <param name="observeTopology">Whether the connection must observe the downstream's topology (not in explicit mode).</param>
    /// <param name="connected">Takes a fresh connection into use (number, URI, connection); when it throws, the connection is closed and retried.</param>
    /// <param name="released">Called when the session, or a connection being taken into use, goes away.</param>
    /// <param name="logger">The supervisor's logger.</param>
    /// <param name="time">The clock for backoff and session age.</param>
    /// <param name="stopping">Fires when the supervisor stops.</param>
    public DownstreamConnector(
        SupervisorLoop loop,
        TransportResolver transports,
        Func<FederationDefinitions> definitions,
        bool observeTopology,
        Func<int, string, IBrokerConnection, Task> connected,
        Action released,
        ILogger logger,
        TimeProvider time,
        CancellationToken stopping)
    {
        _loop = loop;
        _transports = transports;
        _definitions = definitions;
        _observeTopology = observeTopology;
        _connected = connected;
        _released = released;
        _logger = logger;
        _time = time;
        _stopping = stopping;
    }

    /// <summary>The live session for the links, which wait on it while the downstream reconnects. Any thread.</summary>
    public DownstreamHandle Handle { get; } = new();

    /// <summary>The session in use, or null while not connected. Any thread.</summary>
    public DownstreamSession? Session => _session;

    /// <summary>Why the last attempt failed (redacted), while not connected; null once connected. Any thread.</summary>
    public string? LastError => _session is null ? _lastError : null;

    /// <summary>Why the session's connection is blocked (a resource alarm on the broker), or null. Any thread.</summary>
    public string? BlockedReason => _session is null ? null : _blocked?.Reason;

    /// <summary>Why the session's connection cannot observe the downstream's topology, or null. Any thread.</summary>
    public string? TopologyUnobserved => _session is null ? null : _unobserved;

    /// <summary>Counts connect attempts; a topology change or a loss from an older one is stale.</summary>
    public int SessionNumber { get; private set; }

    /// <summary>Starts a connect attempt in the background unless connected, connecting or stopping.</summary>
    public void Begin()
    {
        if (_session is not null || _connectAttempt is not null || _stopping.IsCancellationRequested)
        {
            return;
        }

        CancelRetryWait();
        var uri = _definitions().DownstreamUri;
        var number = ++SessionNumber;
        _blocked = null;
        _unobserved = null;
        var attempt = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        _connectAttempt = attempt;
        _ = ConnectInBackgroundAsync(number, uri, attempt);
    }

    /// <summary>Keeps a way back after a failure: without a session there must be an attempt or a retry under way.</summary>
    public void BeginUnlessRetryScheduled()
    {
        if (_session is null && _retryWait is null)
        {
            Begin();
        }
    }

    /// <summary>Abandons the attempt in flight; its completion still comes back to the loop, which closes it.</summary>
    public void CancelAttempt()
    {
        _connectAttempt?.Cancel();
        _connectAttempt = null;
    }

    /// <summary>The next failure is retried at once; with <paramref name="endFailureEpisode"/> it is the first of a new episode.</summary>
    /// <param name="endFailureEpisode">True when the failures so far were another broker's: "up again after N failed attempt(s)" would count them for this one.</param>
    public void ResetBackoff(bool endFailureEpisode)
    {
        _backoff.Reset();
        if (endFailureEpisode)
        {
            _failures.End();
        }
    }

    /// <summary>The cluster name the links use on <paramref name="connection"/>: the configured one, or the one it advertises.</summary>
    public string ClusterNameOf(IBrokerConnection connection) => _definitions().ClusterName ?? connection.ClusterName
        ?? throw new TransportException($"The downstream '{connection.DisplayUri}' advertises no cluster name; set Federation:ClusterName.");

    /// <summary>Makes <paramref name="connection"/> the session; the links see it only once it is published.</summary>
    public DownstreamSession Adopt(IBrokerConnection connection, string clusterName)
    {
        var definitions = _definitions();
        if (_lastIdentity is { } last && last.Uri == definitions.DownstreamUri && last.Configured == definitions.ClusterName && last.ClusterName != clusterName)
        {
            Log.DownstreamClusterNameChanged(_logger, UriRedaction.Redact(connection.DisplayUri), clusterName, last.ClusterName);
        }

        _lastIdentity = (definitions.DownstreamUri, definitions.ClusterName, clusterName);
        var session = new DownstreamSession(connection, clusterName, connection.VirtualHost);
        _session = session;
        return session;
    }

    /// <summary>Hands the adopted session to the links and watches its connection for the loss.</summary>
    public void Publish(int number, DownstreamSession session)
    {
        var connection = session.Connection;
        Handle.Set(session);
        _sessionSince = _time.GetUtcNow();
        _lastError = null;
        Log.DownstreamConnected(_logger, UriRedaction.Redact(connection.DisplayUri), session.ClusterName, connection.VirtualHost);
        if (_failures.Up() is > 0 and var failed)
        {
            Log.DownstreamRecovered(_logger, UriRedaction.Redact(connection.DisplayUri), failed);
        }

        _ = connection.Completion.ContinueWith(
            ended => _loop.Post(() => OnLostAsync(number, ended.Exception?.GetBaseException())),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>
    /// A connection could not be taken into use: it is closed and, unless stopping, the failure is logged and retried.
    /// </summary>
    public async Task AbandonAsync(string uri, IBrokerConnection connection, Exception failure)
    {
        Handle.Invalidate();
        _session = null;
        _released();
        await CloseQuietlyAsync(connection).ConfigureAwait(false);
        if (!_stopping.IsCancellationRequested)
        {
            AttemptFailed(uri, failure);
        }
    }

    /// <summary>Closes the session, if any; the links wait for the next one.</summary>
    /// <param name="deadline">
    /// At an engine stop, the stop's deadline, which the close shares with the links' waits for the downstream (see
    /// <see cref="StopDeadline"/>): a downstream that answered them nothing would not answer the close either.
    /// </param>
    public async Task DisconnectAsync(StopDeadline? deadline = null)
    {
        Handle.Invalidate();
        var session = _session;
        _session = null;
        _released();
        if (session is null)
        {
            return;
        }

        // A downstream that stops answering (a frozen broker, a black-holed network) would hold up a stop, or the next
        // connect, until the client's own timeouts: the close goes on in the background after CloseWithin.
        // On the thread pool: a client whose close blocks before its first await (a synchronous dispose waiting for a frozen
        // peer) would otherwise hold this wait, and the stop, before any limit applied (BlockingDownstreamCloseTests). A
        // black-box run (7 Dec 2026) saw a SIGTERM with the downstream frozen take 18-23 s, event 2024 saying it had waited
        // 0 ms, which this may explain; it was not reproduced against RabbitMQ.
        var since = _time.GetTimestamp();
        var closing = Task.Run(() => session.Connection.DisposeAsync().AsTask());
        var within = Task.Delay(CloseWithin);
        await (deadline is null ? Task.WhenAny(closing, within) : Task.WhenAny(closing, within, deadline.Limit())).ConfigureAwait(false);
        if (!closing.IsCompleted)
        {
            // Which limit cut the wait: the close's own, or an engine stop's deadline that the links' waits had mostly spent.
            Log.DownstreamCloseAbandoned(
                _logger,
                UriRedaction.Redact(session.Connection.DisplayUri),
                (long)_time.GetElapsedTime(since).TotalMilliseconds,
                within.IsCompleted ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the close's limit of {CloseWithin.TotalSeconds:0.#} s") : "the engine stop's deadline (shared with the links' waits for the downstream, which may have spent it)");
            _ = closing.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        await closing.ConfigureAwait(false);
    }

    /// <summary>What a stop cuts short here, or null. Any thread.</summary>
    public string? DescribeAttemptInFlight() =>
        _connectAttempt is null ? null : $"connecting to downstream {UriRedaction.Redact(_definitions().DownstreamUri)}";

    /// <summary>What an abandoned stop leaves undone here. Any thread.</summary>
    public string DescribeUnfinishedStop() => $"closing the downstream {UriRedaction.Redact(_definitions().DownstreamUri)}";

    private async Task ConnectInBackgroundAsync(int number, string uri, CancellationTokenSource attempt)
    {
        IBrokerConnection? connection = null;
        Exception? failure = null;
        try
        {
            // In explicit mode the host declares the topology; the downstream broker is not observed (no management API needed).
            var request = new ConnectionRequest(uri, "Federation supervisor", ObserveTopology: _observeTopology)
            {
                Blocked = reason => OnBlocked(number, uri, reason),
                // The transport logs the cause itself; this only keeps it for the health check. An older attempt's is ignored.
                TopologyUnobserved = reason =>
                {
                    if (number == SessionNumber)
                    {
                        _unobserved = reason is null ? null : PrintableText.Escape(reason);
                    }
                },
            };
            connection = await ConnectDeadline.ConnectAsync(_transports.Resolve(uri), request, _time, attempt.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Every failure is handed to the loop, which logs it and retries.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
        }

        if (!_loop.TryPost(() => OnAttemptDoneAsync(number, uri, attempt, connection, failure)))
        {
            // The supervisor has stopped: nobody will use this connection.
            attempt.Dispose();
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
        }
    }

    private async Task OnAttemptDoneAsync(int number, string uri, CancellationTokenSource attempt, IBrokerConnection? connection, Exception? failure)
    {
        var current = ReferenceEquals(_connectAttempt, attempt);
        if (current)
        {
            _connectAttempt = null;
        }

        attempt.Dispose();
        if (!current || number != SessionNumber || _stopping.IsCancellationRequested)
        {
            // Superseded by a reconfiguration (which started its own attempt), or stopping.
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
            return;
        }

        if (connection is null)
        {
            AttemptFailed(uri, failure!);
            return;
        }

        await _connected(number, uri, connection).ConfigureAwait(false);
    }

    /// <summary>Logs a failed attempt (once per episode at warning, every one at debug) and schedules the next.</summary>
    private void AttemptFailed(string uri, Exception failure)
    {
        var redacted = UriRedaction.Redact(uri);
        var cause = FailureEpisode.Describe(failure);
        _lastError = cause;
        var step = _failures.Fail(cause);
        var delay = _backoff.NextDelay();
        Log.DownstreamAttemptFailed(_logger, failure, _failures.Failures, redacted);
        switch (step)
        {
            case FailureLogStep.Started:
                Log.DownstreamFailed(_logger, redacted, cause, delay);
                break;
            case FailureLogStep.Summary:
                Log.DownstreamStillFailing(_logger, redacted, _failures.Failures, cause, delay);
                break;
            case FailureLogStep.Quiet:
                break;
        }

        RetryAfter(delay);
    }

    /// <summary>Connects again now, or after <paramref name="delay"/> unless something connects sooner.</summary>
    private void RetryAfter(TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Begin();
            return;
        }

        var wait = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
        _retryWait = wait;
        _ = RetryLaterAsync(wait, delay);
    }

    private async Task RetryLaterAsync(CancellationTokenSource wait, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // Stopping, or an attempt started earlier (reconfiguration).
        }

        _loop.Post(() =>
        {
            if (ReferenceEquals(_retryWait, wait))
            {
                _retryWait = null;
                wait.Dispose();
                Begin();
            }

            return Task.CompletedTask;
        });
    }

    private void CancelRetryWait()
    {
        if (_retryWait is { } wait)
        {
            _retryWait = null;
            wait.Cancel();
            wait.Dispose();
        }
    }

    private async Task OnLostAsync(int number, Exception? cause)
    {
        if (number != SessionNumber || _session is null)
        {
            return;
        }

        // Said at warning with the broker's or the client's reason: every link stops at once and says only that it lost its
        // lease or connection, so without this line nobody could tell why the whole downstream session went.
        var uri = UriRedaction.Redact(_session.Connection.DisplayUri);
        Log.DownstreamLost(_logger, uri, cause is null ? "the connection closed" : FailureEpisode.Describe(cause).TrimEnd('.')); // the message adds its own period

        // A session that stayed up a while ends the failure episode and gets the immediate retry; one lost right away
        // continues both, so a downstream that accepts and then drops every connection is not retried in a hot loop.
        if (_time.GetUtcNow() - _sessionSince >= RetryDelay)
        {
            _failures.End();
            _backoff.Reset();
        }

        // Links keep their upstream queues and wait for the new downstream session; bindings resync from a new snapshot.
        await DisconnectAsync().ConfigureAwait(false);
        RetryAfter(_backoff.NextDelay());
    }

    private static async ValueTask CloseQuietlyAsync(IBrokerConnection? connection)
    {
        if (connection is null)
        {
            return;
        }

        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Closing a connection we no longer want: whatever it throws, it is gone.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>
    /// The transport says that the broker blocks (or no longer blocks) what this attempt's connection publishes. A blocked
    /// downstream keeps the connection and every link up while nothing moves: a warning once when it starts, with the
    /// broker's reason, and one line when it ends, so that the stall is not invisible. Any thread; an older attempt's
    /// connection is ignored.
    /// </summary>
    private void OnBlocked(int number, string uri, string? reason)
    {
        if (number != SessionNumber)
        {
            return;
        }

        var now = _time.GetUtcNow();
        if (reason is not null)
        {
            var text = string.IsNullOrEmpty(reason) ? "no reason given" : PrintableText.Escape(reason);
            if (Interlocked.Exchange(ref _blocked, new BlockedSince(text, now)) is null)
            {
                Log.DownstreamBlocked(_logger, UriRedaction.Redact(uri), text);
            }
        }
        else if (Interlocked.Exchange(ref _blocked, null) is { } ended && !_stopping.IsCancellationRequested)
        {
            // Not while stopping: then the null comes from the blocked publishing connection as it closes (see the AMQP
            // transport's ReportBlocking), not from the broker, and "takes what the links publish again" would be false.
            Log.DownstreamUnblocked(_logger, UriRedaction.Redact(uri), now - ended.Since);
        }
    }

    private sealed record BlockedSince(string Reason, DateTimeOffset Since);
}
