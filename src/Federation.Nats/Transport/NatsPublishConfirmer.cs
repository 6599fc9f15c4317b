using Federation.Core.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Confirms published messages by group commit: every publish that asks for a confirm while no PING is pending joins one
/// batch, one PING follows the batch, and its PONG confirms the whole batch (the server handles a connection's messages in
/// order, so the PONG proves that everything written before the PING arrived).
/// </summary>
/// <remarks>
/// A PONG proves nothing across a reconnect: the official client reconnects on its own and would answer the PING on the new
/// socket, while the batch may have died with the old one. Each batch therefore remembers the connection identity (server id
/// and client id) that was current before its first publish, and the confirm fails unless the identity is the same after
/// the PONG. A publish whose identity differs from the open batch's fails at once.
/// </remarks>
internal sealed class NatsPublishConfirmer
{
    private readonly NatsConnection _nats;
    private readonly Task _lost;
    private readonly Lock _gate = new();
    private Batch? _open;
    private bool _pinging;

    // Waiters of single publishes (ConfirmOneAsync), reused: at most a few confirm windows' worth are in use at once.
    private readonly NatsPublishWaiter.Pool _waiters = new(64 * 1024);

    /// <param name="nats">The connection the publishes went out on.</param>
    /// <param name="lost">Completes when the connection is lost for this transport; no PING is awaited past it.</param>
    public NatsPublishConfirmer(NatsConnection nats, Task lost)
    {
        _nats = nats;
        _lost = lost;
    }

    /// <summary>The identity of the connection right now; read it before publishing the message to confirm.</summary>
    public ConnectionIdentity Current => _nats.ServerInfo is { } info ? new ConnectionIdentity(info.Id, info.ClientId) : default;

    /// <summary>A task that completes when every message published under <paramref name="identity"/> so far reached the server.</summary>
    public Task ConfirmAsync(ConnectionIdentity identity)
    {
        lock (_gate)
        {
            if (Open(identity) is not { } batch)
            {
                return Task.FromException(Reconnected());
            }

            StartPinging();
            return batch.Completion.Task;
        }
    }

    /// <summary>
    /// The same for one publish: completes when the message just published under <paramref name="identity"/> reached the
    /// server, on a waiter of its own, so that its continuation runs inline where the batch completes (see
    /// <see cref="NatsPublishWaiter"/>). Await it exactly once.
    /// </summary>
    public ValueTask ConfirmOneAsync(ConnectionIdentity identity)
    {
        lock (_gate)
        {
            if (Open(identity) is not { } batch)
            {
                return ValueTask.FromException(Reconnected());
            }

            var waiter = _waiters.Rent();
            batch.Waiters.Add(waiter); // before the ping loop may take the batch
            StartPinging();
            return waiter.Task;
        }
    }

    /// <summary>The open batch, opened if none is; null when it belongs to another connection identity. Call under <c>_gate</c>.</summary>
    private Batch? Open(ConnectionIdentity identity)
    {
        if (_open is { } open)
        {
            return open.Identity == identity ? open : null;
        }

        var batch = new Batch(identity);
        _open = batch;
        return batch;
    }

    /// <summary>Starts the ping loop unless it runs. Call under <c>_gate</c>, after the publish joined its batch.</summary>
    private void StartPinging()
    {
        if (!_pinging)
        {
            _pinging = true;
            _ = PingLoopAsync();
        }
    }

    private async Task PingLoopAsync()
    {
        while (true)
        {
            Batch batch;
            lock (_gate)
            {
                if (_open is null)
                {
                    _pinging = false;
                    return;
                }

                batch = _open;
                _open = null;
            }

            try
            {
                using var abandon = new CancellationTokenSource();
                var ping = _nats.PingAsync(abandon.Token).AsTask();
                if (await Task.WhenAny(ping, _lost).ConfigureAwait(false) != ping)
                {
                    await abandon.CancelAsync().ConfigureAwait(false);
                    batch.Fail(new ConnectionLostException("The NATS connection was lost before the server confirmed the messages."));
                    continue;
                }

                await ping.ConfigureAwait(false);
                if (Current == batch.Identity)
                {
                    batch.Confirm();
                }
                else
                {
                    batch.Fail(Reconnected());
                }
            }
#pragma warning disable CA1031 // every failure of the PING fails the batch it was to confirm
            catch (Exception ex)
#pragma warning restore CA1031
            {
                batch.Fail(new ConnectionLostException($"The NATS server did not confirm the messages: {NatsErrorText.Message(ex, _nats.Opts)}", NatsErrorText.SafeInner(ex, _nats.Opts)));
            }
        }
    }

    private static ConnectionLostException Reconnected() =>
        new("The NATS client reconnected after these messages were written; whether they reached the server is unknown.");

    /// <summary>Which server and which client connection a message went out on.</summary>
    /// <param name="ServerId">The server's id (INFO <c>server_id</c>).</param>
    /// <param name="ClientId">The id the server gave this connection (INFO <c>client_id</c>).</param>
    internal readonly record struct ConnectionIdentity(string? ServerId, ulong ClientId);

    private sealed class Batch(ConnectionIdentity identity)
    {
        public ConnectionIdentity Identity { get; } = identity;

        /// <summary>
        /// What <see cref="ConfirmAsync"/> returns (the publisher's backlog batches await it, one continuation each); a
        /// success completes it, and then <see cref="Waiters"/>, on one thread-pool work item of its own
        /// (<see cref="Confirm"/>), not one per publish, and never on the PING loop.
        /// </summary>
        public TaskCompletionSource Completion { get; } = new();

        /// <summary>The single publishes of the batch (<see cref="ConfirmOneAsync"/>); complete once the ping loop took the batch.</summary>
        public List<NatsPublishWaiter> Waiters { get; } = [];

        public void Confirm() => ThreadPool.UnsafeQueueUserWorkItem(
            static batch =>
            {
                if (!batch.Completion.TrySetResult())
                {
                    return;
                }

                foreach (var waiter in batch.Waiters)
                {
                    waiter.Succeed();
                }
            },
            this,
            preferLocal: false);

        public void Fail(Exception error)
        {
            if (Completion.TrySetException(error))
            {
                foreach (var waiter in Waiters)
                {
                    waiter.Fail(error);
                }
            }
        }
    }
}
