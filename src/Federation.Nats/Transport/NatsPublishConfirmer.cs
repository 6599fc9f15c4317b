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
            if (_open is { } open)
            {
                return open.Identity == identity ? open.Completion.Task : Task.FromException(Reconnected());
            }

            var batch = new Batch(identity);
            _open = batch;
            if (!_pinging)
            {
                _pinging = true;
                _ = PingLoopAsync();
            }

            return batch.Completion.Task;
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
                    batch.Completion.TrySetException(new ConnectionLostException("The NATS connection was lost before the server confirmed the messages."));
                    continue;
                }

                await ping.ConfigureAwait(false);
                if (Current == batch.Identity)
                {
                    batch.Confirm();
                }
                else
                {
                    batch.Completion.TrySetException(Reconnected());
                }
            }
#pragma warning disable CA1031 // every failure of the PING fails the batch it was to confirm
            catch (Exception ex)
#pragma warning restore CA1031
            {
                batch.Completion.TrySetException(new ConnectionLostException($"The NATS server did not confirm the messages: {NatsErrorText.Message(ex, _nats.Opts)}", NatsErrorText.SafeInner(ex, _nats.Opts)));
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
        /// Its continuations (one per confirmed publish) run inline where it completes; a success completes it on one
        /// thread-pool work item of its own (<see cref="Confirm"/>), not one per publish, and never on the PING loop.
        /// </summary>
        public TaskCompletionSource Completion { get; } = new();

        public void Confirm() => ThreadPool.UnsafeQueueUserWorkItem(static batch => batch.Completion.TrySetResult(), this, preferLocal: false);
    }
}
