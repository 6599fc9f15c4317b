using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The current downstream connection, shared by every link. While the downstream is being reconnected, links wait on
/// <see cref="Current"/> instead of failing, and continue with the new connection.
/// </summary>
internal sealed class DownstreamHandle
{
    private volatile TaskCompletionSource<DownstreamSession> _current = NewSource();

    // Completed (and replaced) each time the current session is invalidated or replaced.
    private volatile TaskCompletionSource _replaced = NewSignal();

    /// <summary>Completes with the live downstream session.</summary>
    public Task<DownstreamSession> Current => _current.Task;

    /// <summary>
    /// Completes with a downstream session whose connection is open. A session whose connection just closed stays
    /// <see cref="Current"/> until the supervisor gets round to <see cref="Invalidate"/>; this waits for that rather than
    /// hand out a connection every call on which fails.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <param name="accepts">
    /// Whether the caller may use a session; one it may not is waited past until it is replaced. A link takes only a session
    /// of the downstream its definition names (see <see cref="LinkLease.HoldAsync"/>).
    /// </param>
    public async Task<DownstreamSession> OpenSessionAsync(CancellationToken cancellationToken, Func<DownstreamSession, bool>? accepts = null)
    {
        while (true)
        {
            var replaced = _replaced.Task; // Read before the session, so that a replacement in between is not missed.
            var session = await Current.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!session.Connection.Completion.IsCompleted && accepts?.Invoke(session) != false)
            {
                return session;
            }

            await replaced.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Publishes a freshly connected session.</summary>
    public void Set(DownstreamSession session)
    {
        if (!_current.TrySetResult(session))
        {
            _current = NewSource();
            _current.TrySetResult(session);
            SignalReplaced();
        }
    }

    /// <summary>Marks the session as gone; later waiters block until <see cref="Set"/>.</summary>
    public void Invalidate()
    {
        if (_current.Task.IsCompleted)
        {
            _current = NewSource();
            SignalReplaced();
        }
    }

    private void SignalReplaced()
    {
        var replaced = _replaced;
        _replaced = NewSignal();
        replaced.TrySetResult();
    }

    private static TaskCompletionSource<DownstreamSession> NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A connected downstream and the identity the links use for it.</summary>
/// <param name="Connection">The downstream connection.</param>
/// <param name="ClusterName">The effective (configured or advertised) cluster name.</param>
/// <param name="VirtualHost">The downstream vhost.</param>
internal sealed record DownstreamSession(IBrokerConnection Connection, string ClusterName, string VirtualHost);
