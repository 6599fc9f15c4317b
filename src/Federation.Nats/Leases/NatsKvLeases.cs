using System.Collections.Concurrent;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Federation.Nats.Leases;

/// <summary>
/// Link leases on a NATS server, as keys of a JetStream key-value bucket (default <c>federation-leases</c>). The server
/// arbitrates: a lease is taken by creating its key, which fails while the key exists; it is kept by updating the key
/// with the revision last written (compare-and-set) every third of the time-to-live; and it is freed by deleting the key
/// with that revision, or, when its holder vanished, by the bucket's max age, which is the lease's time-to-live.
/// </summary>
/// <remarks>
/// <para>
/// nats-server 2.9 has no per-key time-to-live (2.11 has), so the bucket's max age is the lease's: every key, and every
/// delete marker, disappears that long after it was last written. Expiry is the server's own clock against the server's
/// own timestamps, so the clients' clocks never need to agree; a holder only measures elapsed time, on its own monotonic
/// clock and its wall clock (the larger: see <see cref="NatsLeaseInstant"/>).
/// </para>
/// <para>
/// A holder gives the lease up (<see cref="IBrokerLease.Lost"/>) when a renewal fails its compare-and-set (the key expired
/// or someone deleted it), when its connection is lost, or when no renewal got through for four fifths of the time-to-live
/// (a server it cannot reach): always before the key can expire on the server, so that the holder stops before anyone
/// else can take the lease.
/// </para>
/// <para>
/// The key's value records the holder and a subject its connection answers on while it lives. An asker that finds the key
/// taken sends a request there; when the server answers "no responders", the holder's connection is gone (a killed
/// process, a closed connection) and the asker takes the key over by compare-and-set on the revision it read, without
/// waiting for the time-to-live. That is what a dead connection's exclusive queue does on AMQP. A holder that is merely
/// unreachable still answers nothing at all (a timeout), and its key is left to expire.
/// </para>
/// </remarks>
internal sealed class NatsKvLeases : IBrokerLeases, IAsyncDisposable
{
    // Asking a holder whether it lives must not hold up the poll; no answer within it counts as alive.
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    private readonly NatsConnection _client;
    private readonly NatsKVContext _kv;
    private readonly NatsLeaseSettings _settings;
    private readonly SemaphoreSlim _storeGate = new(1, 1);
    private readonly string _displayUri;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<NatsKvLease, byte> _held = new();
    private readonly SemaphoreSlim _responderGate = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private Task _connectionClosed = Task.CompletedTask;
    private INatsKVStore? _store;
    private INatsSub<byte[]>? _responder;
    private Task? _responderLoop;
    private string? _aliveSubject;
    private int _disposed;

    private NatsKvLeases(NatsConnection client, NatsKVContext kv, NatsLeaseSettings settings, INatsKVStore? store, string displayUri, ILogger logger, TimeProvider time)
    {
        _client = client;
        _kv = kv;
        _settings = settings;
        _store = store;
        _displayUri = displayUri;
        _logger = logger;
        _time = time;
    }

    /// <summary>The lease's time-to-live: the bucket's max age (<c>lease-ttl-ms</c> until the bucket exists).</summary>
    public TimeSpan TimeToLive { get; private set; }

    /// <summary>The bucket's name.</summary>
    public string Bucket => _settings.Bucket;

    /// <summary>The bucket, which <c>lease-bucket</c> on the downstream URI can change while the instances still meet there.</summary>
    public string Location => $"the JetStream key-value bucket '{Bucket}'";

    /// <summary>
    /// Looks the lease bucket up on <paramref name="client"/>'s server (it is created with the first lease taken). Returns
    /// null, and says why through <paramref name="unavailable"/>, when the server cannot keep leases: <c>leases=false</c>,
    /// a server whose INFO offers no JetStream and that does not answer the lookup, or a bucket without a max age.
    /// </summary>
    /// <remarks>
    /// A server whose INFO offers JetStream and that does not answer the lookup (a timeout, no responders, or 503 "JetStream
    /// temporarily unavailable" while it recovers its store after a restart) still gets leases: the bucket is looked up
    /// again with the first lease taken, and until that succeeds every lease attempt fails, so the links wait in error
    /// and retry. Leases left off for such a passing state would have every host that reconnected in the window run every
    /// link unfenced, for as long as the connection lives.
    /// </remarks>
    /// <param name="client">The connection that holds the leases.</param>
    /// <param name="settings">The lease keys of the URI.</param>
    /// <param name="displayUri">The redacted URI, for messages.</param>
    /// <param name="deadline">How long opening may take, at most.</param>
    /// <param name="logger">Where lost leases are logged.</param>
    /// <param name="unavailable">Told why leases are unavailable.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <param name="time">The clocks leases are judged by; the system's when null (tests pass their own).</param>
    public static async Task<NatsKvLeases?> OpenAsync(
        NatsConnection client,
        NatsLeaseSettings settings,
        string displayUri,
        TimeSpan deadline,
        ILogger logger,
        Action<string> unavailable,
        CancellationToken cancellationToken,
        TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(unavailable);
        if (!settings.Enabled)
        {
            return null;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deadline);
        var kv = new NatsKVContext(new NatsJSContext(client));
        string reason;
        try
        {
            // Only looked up here: the bucket is created by the first lease taken, so that servers on which this
            // connection never takes one (upstreams) get no bucket.
            var leases = new NatsKvLeases(client, kv, settings, await FindBucketAsync(kv, settings.Bucket, timeout.Token).ConfigureAwait(false), displayUri, logger, time ?? TimeProvider.System);
            if (leases._store is { } store && await leases.ReadTimeToLiveAsync(store, timeout.Token).ConfigureAwait(false) is { } problem)
            {
                unavailable(problem);
                return null;
            }

            return leases;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            reason = $"looking up the key-value bucket '{settings.Bucket}' ({NatsLeaseSettings.BucketKey}) took longer than {deadline.TotalMilliseconds:0} ms";
        }
        catch (Exception ex) when (ex is NatsNoRespondersException or NatsJSApiNoResponseException)
        {
            reason = "the server does not answer JetStream requests (start nats-server 2.9 or later with -js, or set leases=false to silence this)";
        }
        catch (NatsException ex)
        {
            reason = $"the key-value bucket '{settings.Bucket}' ({NatsLeaseSettings.BucketKey}) could not be looked up: {Transport.NatsErrorText.Message(ex, client.Opts)}";
        }

        if (client.ServerInfo is { JetStreamAvailable: true })
        {
            // See the remarks: the bucket is looked up (or created) again with the first lease taken, as when it does not
            // exist yet; an upstream connection, which never takes one, is not held up by it.
            return new NatsKvLeases(client, kv, settings, store: null, displayUri, logger, time ?? TimeProvider.System);
        }

        unavailable(reason);
        return null;
    }

    /// <summary>Ties the leases to their connection: when it closes, every held lease is lost.</summary>
    public void TieTo(Task connectionClosed)
    {
        _connectionClosed = connectionClosed;
    }

    /// <inheritdoc />
    public async ValueTask<LeaseAttempt> TryAcquireAsync(LeaseRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ConnectionLostException($"Could not take lease '{request.Name}' on {_displayUri}: the connection is closed.");
        }

        var key = NatsLeaseKeys.KeyFor(request.Name);
        INatsKVStore? store = null;
        NatsException unanswered;
        try
        {
            store = await StoreAsync(cancellationToken).ConfigureAwait(false);
            return await TryTakeAsync(store, request, key, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsException ex) when (store is not null && ex is not (NatsKVCreateException or NatsKVWrongLastRevisionException or NatsJSApiException))
        {
            // No answer from the bucket: it may have been deleted under the running links.
            unanswered = ex;
        }
        catch (Exception ex) when (ex is NatsException or ObjectDisposedException)
        {
            throw NotTaken(request, ex);
        }

        try
        {
            if (await RecreateIfMissingAsync(store, unanswered, cancellationToken).ConfigureAwait(false))
            {
                return await TryTakeAsync(await StoreAsync(cancellationToken).ConfigureAwait(false), request, key, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NatsException or ObjectDisposedException)
        {
            throw NotTaken(request, ex);
        }

        throw NotTaken(request, unanswered);
    }

    /// <summary>Releases every lease still held (the connection is closing), then stops answering liveness probes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var lease in _held.Keys)
        {
            await lease.DisposeAsync().ConfigureAwait(false);
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        if (_responder is { } responder)
        {
            try
            {
                await responder.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsException or ObjectDisposedException)
            {
                // The connection is going; the server drops the subscription with it.
            }
        }

        if (_responderLoop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        _closing.Dispose();
        _responderGate.Dispose();
        _storeGate.Dispose();
    }

    /// <summary>Forgets a lease that was released or lost.</summary>
    internal void Forget(NatsKvLease lease) => _held.TryRemove(lease, out _);

    private ConnectionLostException NotTaken(LeaseRequest request, Exception failure) =>
        new($"Could not take lease '{request.Name}' in key-value bucket '{Bucket}' on {_displayUri}: {Transport.NatsErrorText.Message(failure, _client.Opts)}", Transport.NatsErrorText.SafeInner(failure, _client.Opts));

    /// <summary>Takes the lease by creating its key, or over from a dead holder when the key exists.</summary>
    private async Task<LeaseAttempt> TryTakeAsync(INatsKVStore store, LeaseRequest request, string key, CancellationToken cancellationToken)
    {
        var record = new NatsLeaseRecord(request.Holder, await AliveSubjectAsync(cancellationToken).ConfigureAwait(false));
        var sentAt = NatsLeaseInstant.Now(_time);
        try
        {
            var revision = await store.CreateAsync(key, record.ToBytes(), NatsRawSerializer<byte[]>.Default, cancellationToken).ConfigureAwait(false);
            return LeaseAttempt.Taken(Hold(store, request, key, record, revision, sentAt));
        }
        catch (Exception ex) when (ex is NatsKVCreateException or NatsKVWrongLastRevisionException)
        {
            return await TakeFromDeadHolderAsync(store, request, key, record, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After <paramref name="failure"/> of a write to <paramref name="failed"/>: whether the bucket had been deleted (an
    /// operator deleted its stream <c>KV_&lt;bucket&gt;</c>), so that a write to it gets no answer at all. Then it is created
    /// again, with the settings of the first lease's creation, and true tells the caller to try once more; true too when
    /// another lease did that meanwhile. False when the bucket is there (the failure has another cause) or the lookup fails.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The bucket is missing and cannot be created again; the text says so.</exception>
    private async Task<bool> RecreateIfMissingAsync(INatsKVStore failed, NatsException failure, CancellationToken cancellationToken)
    {
        await _storeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!ReferenceEquals(Volatile.Read(ref _store), failed))
            {
                return true;
            }

            try
            {
                await _kv.GetStoreAsync(Bucket, cancellationToken).ConfigureAwait(false);
                return false;
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == JetStream.JetStreamErrors.NotFound)
            {
                Volatile.Write(ref _store, null);
            }
            catch (NatsException)
            {
                return false; // JetStream does not answer: the failure says enough
            }
        }
        finally
        {
            _storeGate.Release();
        }

        try
        {
            await StoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PreconditionFailedException ex)
        {
            throw new PreconditionFailedException($"The lease bucket '{Bucket}' ({NatsLeaseSettings.BucketKey}) on {_displayUri} is missing (was its stream 'KV_{Bucket}' deleted?) and could not be created again: {ex.Message}", ex);
        }

        NatsLeaseLog.BucketRecreated(_logger, Bucket, _displayUri, failure.Message);
        return true;
    }

    private static async Task<INatsKVStore?> FindBucketAsync(NatsKVContext kv, string bucket, CancellationToken cancellationToken)
    {
        try
        {
            return await kv.GetStoreAsync(bucket, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == JetStream.JetStreamErrors.NotFound)
        {
            return null;
        }
    }

    /// <summary>The bucket, created with the first lease taken when it did not exist.</summary>
    /// <exception cref="TransportException">The bucket cannot be created or has no max age.</exception>
    private async Task<INatsKVStore> StoreAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _store) is { } found)
        {
            return found;
        }

        await _storeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_store is not null)
            {
                return _store;
            }

            // History 1: only the latest revision matters. File storage: a server restart keeps the leases, so nobody
            // takes a link early; the holders' connections are gone, so their keys are taken over at once (see the class).
            var config = new NatsKVConfig(Bucket)
            {
                Description = "Federation link leases: one key per link, held by the engine that runs it",
                History = 1,
                MaxAge = _settings.TimeToLive,
                Storage = NatsKVStorageType.File,
            };
            INatsKVStore store;
            try
            {
                store = await _kv.CreateStoreAsync(config, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException ex) when (ex.Error.ErrCode == JetStream.JetStreamErrors.StreamNameInUse)
            {
                store = await _kv.GetStoreAsync(Bucket, cancellationToken).ConfigureAwait(false); // another engine created it, differently
            }
            catch (NatsJSApiException ex)
            {
                throw new PreconditionFailedException($"Could not create the lease bucket '{Bucket}' ({NatsLeaseSettings.BucketKey}) on {_displayUri}: {ex.Error.Description} (code {ex.Error.Code}, err_code {ex.Error.ErrCode}).", ex);
            }

            if (await ReadTimeToLiveAsync(store, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                throw new PreconditionFailedException($"Lease bucket on {_displayUri}: {problem}.");
            }

            Volatile.Write(ref _store, store);
            return store;
        }
        finally
        {
            _storeGate.Release();
        }
    }

    /// <summary>Takes the bucket's max age as the time-to-live; returns why it cannot serve, or null.</summary>
    private async Task<string?> ReadTimeToLiveAsync(INatsKVStore store, CancellationToken cancellationToken)
    {
        var maxAge = (await store.GetStatusAsync(cancellationToken).ConfigureAwait(false)).Info.Config.MaxAge;
        if (maxAge <= TimeSpan.Zero)
        {
            return $"the key-value bucket '{Bucket}' ({NatsLeaseSettings.BucketKey}) exists without a max age, so a dead holder's lease would never expire; delete it or name another bucket";
        }

        if (maxAge != _settings.TimeToLive)
        {
            NatsLeaseLog.BucketTimeToLiveDiffers(_logger, Bucket, _displayUri, maxAge, _settings.TimeToLive);
        }

        TimeToLive = maxAge;
        return null;
    }

    private NatsKvLease Hold(INatsKVStore store, LeaseRequest request, string key, NatsLeaseRecord record, ulong revision, NatsLeaseInstant sentAt)
    {
        var lease = new NatsKvLease(this, store, request, key, record.ToBytes(), revision, sentAt, TimeToLive, _connectionClosed, _displayUri, _logger, _time);
        _held[lease] = 0;
        lease.Start();
        return lease;
    }

    /// <summary>
    /// The key exists: tells who holds it, and takes it over when the holder's connection is gone (see the remarks on the
    /// class). The takeover is a compare-and-set on the revision read, so a holder that renewed meanwhile keeps it.
    /// </summary>
    private async Task<LeaseAttempt> TakeFromDeadHolderAsync(INatsKVStore store, LeaseRequest request, string key, NatsLeaseRecord mine, CancellationToken cancellationToken)
    {
        var entry = await store.TryGetEntryAsync(key, serializer: NatsRawSerializer<byte[]>.Default, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!entry.Success)
        {
            return LeaseAttempt.HeldElsewhere(null); // released or expired since: free at the next poll
        }

        var current = NatsLeaseRecord.FromBytes(entry.Value.Value);
        var ownStaleKey = current?.AliveSubject == mine.AliveSubject && !_held.Keys.Any(held => held.Key == key);
        if (!ownStaleKey && (current?.AliveSubject is not { } alive || !await IsGoneAsync(alive, cancellationToken).ConfigureAwait(false)))
        {
            // Alive, unknown or not answering in time: only its time-to-live frees the key. (A key this very connection
            // wrote for a lease it has since given up, after renewals that did not get through, is taken back at once.)
            return LeaseAttempt.HeldElsewhere(current?.Holder);
        }

        var sentAt = NatsLeaseInstant.Now(_time);
        try
        {
            var revision = await store.UpdateAsync(key, mine.ToBytes(), entry.Value.Revision, NatsRawSerializer<byte[]>.Default, cancellationToken).ConfigureAwait(false);
            if (!ownStaleKey)
            {
                NatsLeaseLog.LeaseTakenFromDeadHolder(_logger, request.Name, Bucket, _displayUri, current!.Holder);
            }

            return LeaseAttempt.Taken(Hold(store, request, key, mine, revision, sentAt));
        }
        catch (NatsKVWrongLastRevisionException)
        {
            return LeaseAttempt.HeldElsewhere(current?.Holder); // someone else was quicker
        }
    }

    /// <summary>Whether the server says nobody listens on a holder's liveness subject: its connection is gone.</summary>
    private async Task<bool> IsGoneAsync(string aliveSubject, CancellationToken cancellationToken)
    {
        try
        {
            await _client.RequestAsync<byte[], byte[]>(
                aliveSubject,
                [],
                requestSerializer: NatsRawSerializer<byte[]>.Default,
                replySerializer: NatsRawSerializer<byte[]>.Default,
                replyOpts: new NatsSubOpts { Timeout = ProbeTimeout, ThrowIfNoResponders = true },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            return false;
        }
        catch (NatsNoRespondersException)
        {
            return true;
        }
        catch (NatsException)
        {
            return false; // no answer in time, or not allowed to ask: the key's time-to-live decides
        }
    }

    /// <summary>The subject this connection answers on while it lives, subscribed before the first key names it.</summary>
    private async Task<string> AliveSubjectAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _aliveSubject) is { } subject)
        {
            return subject;
        }

        await _responderGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_aliveSubject is null)
            {
                var inbox = _client.NewInbox();
                _responder = await _client.SubscribeCoreAsync(inbox, serializer: NatsRawSerializer<byte[]>.Default, cancellationToken: cancellationToken).ConfigureAwait(false);
                _responderLoop = AnswerProbesAsync(_responder);
                Volatile.Write(ref _aliveSubject, inbox);
            }

            return _aliveSubject!;
        }
        finally
        {
            _responderGate.Release();
        }
    }

    private async Task AnswerProbesAsync(INatsSub<byte[]> responder)
    {
        try
        {
            await foreach (var probe in responder.Msgs.ReadAllAsync(_closing.Token).ConfigureAwait(false))
            {
                await probe.ReplyAsync<byte[]>([], serializer: NatsRawSerializer<byte[]>.Default, cancellationToken: _closing.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or NatsException or ObjectDisposedException)
        {
            // Closing, or the connection is gone: nobody answers any more, which is the point.
        }
    }
}
