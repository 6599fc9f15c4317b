using Federation.Core.Transport;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Federation.Nats.Leases;

/// <summary>
/// A lease held as a key of the lease bucket (see <see cref="NatsKvLeases"/>): renewed by compare-and-set every third of
/// the time-to-live, lost when a renewal fails its compare-and-set, when the connection is lost, or when no renewal got
/// through for four fifths of the time-to-live (by the monotonic clock or the wall clock, see <see cref="NatsLeaseInstant"/>);
/// released by deleting the key at the revision last written.
/// </summary>
internal sealed class NatsKvLease : IBrokerLease
{
    // Releasing on a connection that stopped answering must not hold up a link's stop; the key expires anyway.
    private static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(5);

    private readonly NatsKvLeases _owner;
    private readonly INatsKVStore _store;
    private readonly string _key;
    private readonly byte[] _value;
    private readonly TimeSpan _timeToLive;
    private readonly Task _connectionClosed;
    private readonly string _displayUri;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private ulong _revision;
    private NatsLeaseInstant _lastConfirmed;
    private Task _renewals = Task.CompletedTask;
    private int _released;

    public NatsKvLease(
        NatsKvLeases owner,
        INatsKVStore store,
        LeaseRequest request,
        string key,
        byte[] value,
        ulong revision,
        NatsLeaseInstant sentAt,
        TimeSpan timeToLive,
        Task connectionClosed,
        string displayUri,
        ILogger logger,
        TimeProvider time)
    {
        _owner = owner;
        _store = store;
        Name = request.Name;
        Holder = request.Holder;
        _key = key;
        _value = value;
        _revision = revision;
        _lastConfirmed = sentAt;
        _timeToLive = timeToLive;
        _connectionClosed = connectionClosed;
        _displayUri = displayUri;
        _logger = logger;
        _time = time;
    }

    public string Name { get; }

    public string Holder { get; }

    /// <summary>The lease's key in the bucket.</summary>
    internal string Key => _key;

    public Task Lost => _lost.Task;

    /// <summary>
    /// Held while the last renewal that got through was sent less than <see cref="GiveUpAfter"/> ago by both the monotonic
    /// clock, which runs on while the process is paused, and the wall clock, which runs on while the machine is suspended
    /// (the monotonic clock does not, on Linux): a holder resumed after a pause or a suspend past that gives the lease up
    /// here, at its first forward, not at its renewal timer's next turn.
    /// </summary>
    public bool IsHeld
    {
        get
        {
            if (_lost.Task.IsCompleted)
            {
                return false;
            }

            var sinceRenewal = Volatile.Read(ref _lastConfirmed).Elapsed(_time);
            if (sinceRenewal < GiveUpAfter)
            {
                return true;
            }

            Lose(NoRenewalFor(sinceRenewal) + "; was the process paused, or the machine suspended?");
            return false;
        }
    }

    /// <summary>How often the key is renewed: a third of the time-to-live, so two renewals may fail before the lease is given up.</summary>
    internal TimeSpan RenewEvery => _timeToLive / 3;

    /// <summary>
    /// How long after the last renewal that got through (measured from when it was sent, which is before the server
    /// stamped it) the holder gives the lease up: four fifths of the time-to-live, so that it has a fifth to stop before
    /// the key can expire on the server and another engine take it.
    /// </summary>
    internal TimeSpan GiveUpAfter => _timeToLive * 4 / 5;

    /// <summary>Starts renewing, and watches the connection.</summary>
    public void Start()
    {
        _ = _connectionClosed.ContinueWith(
            static (_, state) => ((NatsKvLease)state!).Lose("the connection to the server closed"),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        _renewals = RenewAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _renewals.ConfigureAwait(false);
        var wasHeld = _lost.TrySetResult();
        _owner.Forget(this);
        _stop.Dispose();
        if (!wasHeld)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(ReleaseTimeout);
            await _store.DeleteAsync(_key, new NatsKVDeleteOpts { Revision = _revision }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException)
        {
            // Gone, lost, or the connection is going: the key expires after the time-to-live, or was already taken over.
        }
    }

    private async Task RenewAsync(CancellationToken stop)
    {
        try
        {
            var wait = RenewEvery;
            while (!_lost.Task.IsCompleted)
            {
                await Task.Delay(wait, _time, stop).ConfigureAwait(false);
                var left = GiveUpAfter - Volatile.Read(ref _lastConfirmed).Elapsed(_time);
                if (left <= TimeSpan.Zero)
                {
                    Lose(NoRenewalFor(GiveUpAfter - left));
                    return;
                }

                var sentAt = NatsLeaseInstant.Now(_time);
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop);
                attempt.CancelAfter(left);
                try
                {
                    // The deadline is kept by a timer of its own: a client that is slow to honour the cancellation (a
                    // busy machine, a server that stopped answering) must not make the lease outlive its key.
                    var update = _store.UpdateAsync(_key, _value, _revision, NatsRawSerializer<byte[]>.Default, attempt.Token).AsTask();
                    if (await Task.WhenAny(update, Task.Delay(left, _time, attempt.Token)).ConfigureAwait(false) != update)
                    {
                        _ = update.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        stop.ThrowIfCancellationRequested();
                        Lose(NoRenewalFor(Volatile.Read(ref _lastConfirmed).Elapsed(_time)));
                        return;
                    }

                    _revision = await update.ConfigureAwait(false);
                    Volatile.Write(ref _lastConfirmed, sentAt);
                    wait = RenewEvery;
                }
                catch (NatsKVWrongLastRevisionException)
                {
                    Lose("a renewal found the key changed: it expired or was deleted or taken over");
                    return;
                }
                catch (Exception ex) when (ex is NatsException or ObjectDisposedException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
                {
                    // Not through (yet), or the client is closed under us: try again soon, until the deadline above gives
                    // the lease up.
                    // The retry waits no longer than the deadline, which is checked when it ends.
                    var retry = TimeSpan.FromTicks(Math.Max(RenewEvery.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks));
                    var remaining = GiveUpAfter - Volatile.Read(ref _lastConfirmed).Elapsed(_time);
                    wait = remaining < retry ? (remaining > TimeSpan.FromMilliseconds(1) ? remaining : TimeSpan.FromMilliseconds(1)) : retry;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Released.
        }
    }

    // The time that passed, not the threshold it passed: after a pause (SIGSTOP, a stalled VM) or a suspend it tells the
    // operator how long the holder was gone.
    private string NoRenewalFor(TimeSpan sinceRenewal) =>
        $"no renewal got through for {sinceRenewal.TotalMilliseconds:0} ms, more than 4/5 of the time-to-live ({GiveUpAfter.TotalMilliseconds:0} of {_timeToLive.TotalMilliseconds:0} ms)";

    private void Lose(string reason)
    {
        if (Volatile.Read(ref _released) == 0 && _lost.TrySetResult())
        {
            NatsLeaseLog.LeaseLost(_logger, Name, _store.Bucket, _displayUri, reason);
            _owner.Forget(this);
        }
    }
}
