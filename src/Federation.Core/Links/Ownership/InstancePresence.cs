using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links.Ownership;

/// <summary>
/// Tells the other instances of the federation that this one is alive, and hears theirs, through the downstream broker
/// and only the exchange primitives every transport has: each instance publishes a heartbeat every
/// <see cref="OwnershipTimings.HeartbeatEvery"/> to the fanout exchange <c>federation.presence.&lt;cluster&gt;</c> and
/// reads everyone's through its own exclusive, auto-delete queue. A clean stop says "leaving", so that the others place
/// its links elsewhere at once rather than after <see cref="OwnershipTimings.LiveFor"/> of silence.
/// </summary>
/// <remarks>
/// Runs only over a downstream whose transport has leases: without them a link runs wherever it is configured, and there
/// is nothing to place. A failure to announce is logged at debug and retried each heartbeat; meanwhile this instance only
/// counts the instances it still hears, which at worst makes it ask for leases that others hold (refused, harmless).
/// </remarks>
internal sealed class InstancePresence : IAsyncDisposable
{
    private readonly LinkOwnership _ownership;
    private readonly DownstreamHandle _downstream;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<string?> _configuredClusterName;
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyList<string> _liveLogged = [];
    private volatile DownstreamSession? _announcedOn;

    // Where this instance's leases live (see IBrokerLeases.Location), and the instances already warned about for keeping
    // theirs elsewhere, by incarnation: one warning per run of the other instance, not one per heartbeat. A run that left
    // or went silent is dropped at the next tick (see ForgetGoneWarnings), so this holds only live runs, not every restart.
    private volatile string? _leasesHere;
    private readonly Lock _leasesWarnedSync = new();
    private readonly HashSet<(string Incarnation, string Leases)> _leasesWarned = [];

    // How many attempts to announce failed in a row: the first of a run is a warning, the rest debug, and the first
    // success after them says so once.
    private int _failures;
    private Task? _loop;

    /// <param name="ownership">This instance's links and what it hears of the others.</param>
    /// <param name="downstream">The downstream sessions to announce on.</param>
    /// <param name="time">The clock of the heartbeats.</param>
    /// <param name="logger">Where what changed is said.</param>
    /// <param name="configuredClusterName">
    /// <c>Federation:ClusterName</c> as the current configuration says, or null when it leaves it to the downstream: a
    /// reload that changes it renames this instance's federation before the session under the new name is announced on.
    /// </param>
    public InstancePresence(LinkOwnership ownership, DownstreamHandle downstream, TimeProvider time, ILogger logger, Func<string?> configuredClusterName)
    {
        _ownership = ownership;
        _downstream = downstream;
        _time = time;
        _logger = logger;
        _configuredClusterName = configuredClusterName;
    }

    /// <summary>
    /// The fanout exchange every instance of <paramref name="clusterName"/> announces itself on. Its name must be valid on
    /// every transport: NATS maps an exchange to a subject prefix, which has no whitespace and no empty or wildcard tokens,
    /// so the prefix is dotted words and the cluster name keeps only letters, digits, '-' and '_' (all instances read the
    /// same cluster name from the same downstream, so they still meet on one exchange).
    /// </summary>
    public static string ExchangeFor(string clusterName)
    {
        ArgumentNullException.ThrowIfNull(clusterName);
        var safe = string.Create(clusterName.Length, clusterName, static (span, name) =>
        {
            for (var i = 0; i < name.Length; i++)
            {
                span[i] = char.IsAsciiLetterOrDigit(name[i]) || name[i] is '-' or '_' ? name[i] : '_';
            }
        });
        return Model.FederationDefinitions.PresenceExchangePrefix + (safe.Length == 0 ? "_" : safe);
    }

    /// <summary>The queue an instance hears the others through: named after its incarnation, unique and short.</summary>
    public static string QueueFor(string incarnation) => $"federation: presence {incarnation}";

    public void Start() => _loop ??= Task.Run(RunAsync);

    /// <summary>
    /// Stops announcing and says "leaving" on the downstream, if still connected. Call it after the links released their
    /// leases: the others then take them at once.
    /// </summary>
    public async Task LeaveAsync()
    {
        // A loop that does not end in time is stuck on a downstream that does not answer: saying "leaving" there would only
        // wait as long again, and the others notice the silence instead.
        if (!await StopLoopAsync().ConfigureAwait(false) || _announcedOn is not { } session || session.Connection.Completion.IsCompleted)
        {
            return;
        }

        // Bounded in real time whatever the publisher does with the token (a blocked publish must not hold up a stop).
        var leaveWithin = _ownership.Timings.LeaveWithin;
        using var timeout = new CancellationTokenSource(leaveWithin);
        try
        {
            await SayLeavingAsync(session, timeout.Token).WaitAsync(leaveWithin).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TransportException or OperationCanceledException or ObjectDisposedException or TimeoutException)
        {
            Log.PresenceFailed(_logger, ex, _ownership.Instance); // The others notice the silence instead.
        }
    }

    private async Task SayLeavingAsync(DownstreamSession session, CancellationToken cancellationToken)
    {
        var publisher = await session.Connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), cancellationToken).ConfigureAwait(false);
        await using (publisher.ConfigureAwait(false))
        {
            var leaving = new PresenceMessage(Leaving: true, _ownership.Instance, _ownership.Incarnation);
            await publisher.PublishAsync(ExchangeFor(session.ClusterName), string.Empty, new MessageProperties(), leaving.Encode(), cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopLoopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Stops the heartbeats; returns whether the loop ended within <see cref="OwnershipTimings.LeaveWithin"/>.</summary>
    private async Task<bool> StopLoopAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_loop is { } loop)
        {
            try
            {
                await loop.WaitAsync(_ownership.Timings.LeaveWithin).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // A publish or a close that ignores cancellation; the loop ends with the connection.
                return false;
            }
        }

        return true;
    }

    private async Task RunAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            DownstreamSession? session = null;
            try
            {
                session = await _downstream.OpenSessionAsync(stopping).ConfigureAwait(false);
                if (session.Connection.Leases is null)
                {
                    await session.Connection.Completion.WaitAsync(stopping).ConfigureAwait(false);
                    continue;
                }

                await AnnounceAsync(session, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Presence is best effort: whatever fails is logged and tried again at the next heartbeat.
            catch (Exception ex) when (session?.Connection.Completion.IsCompleted == true)
            {
                // The downstream session went away under the heartbeats (a broker restart, say): not a failure to announce,
                // which the downstream connector reports; the next heartbeat announces on the session that replaces it.
                Log.PresenceFailed(_logger, ex, _ownership.Instance);
            }
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (_failures++ == 0)
                {
                    Log.PresenceUnavailable(_logger, _ownership.Instance, UriRedaction.RedactText(FailureEpisodeCause(ex)));
                }

                Log.PresenceFailed(_logger, ex, _ownership.Instance);
            }

            try
            {
                TickAndLog(_announcedOn?.ClusterName);
                await Task.Delay(_ownership.Timings.HeartbeatEvery, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Declares the exchange and this instance's queue, listens, and beats until the connection goes.</summary>
    private async Task AnnounceAsync(DownstreamSession session, CancellationToken cancellationToken)
    {
        var connection = session.Connection;
        var exchange = ExchangeFor(session.ClusterName);
        var queue = QueueFor(_ownership.Incarnation);
        await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Fanout, Durable: false), cancellationToken).ConfigureAwait(false);
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, Exclusive: true, AutoDelete: true), cancellationToken).ConfigureAwait(false);
        await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, string.Empty), noWait: false, cancellationToken).ConfigureAwait(false);
        var consumer = await connection.ConsumeAsync(queue, new ConsumerOptions(Prefetch: 100, AutoAck: true), OnHeardAsync, cancellationToken).ConfigureAwait(false);
        try
        {
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), cancellationToken).ConfigureAwait(false);
            FederationBeacons? beacons = null;
            try
            {
                // Inside the try: the heartbeat publisher is closed whatever opening the beacons throws (a stop, a lost connection).
                beacons = await OpenBeaconsAsync(connection, queue, session.ClusterName, cancellationToken).ConfigureAwait(false);
                _leasesHere = connection.Leases?.Location;
                _announcedOn = session;
                if (_failures > 0)
                {
                    Log.PresenceRecovered(_logger, _ownership.Instance, _failures);
                    _failures = 0;
                }

                var alive = new PresenceMessage(Leaving: false, _ownership.Instance, _ownership.Incarnation).Encode();
                var listClaims = true;
                var started = _ownership.Started;
                while (!connection.Completion.IsCompleted && !consumer.Completion.IsCompleted)
                {
                    // Which links this instance waits for and holds changes from beat to beat; the rest of the message does not.
                    var (waiting, holding, standingBy, failing) = _ownership.LinkClaims();
                    // When this run started and whom it stands aside for go in every heartbeat, with or without the links: runs
                    // of one name that could not tell each other apart would both stand aside (see NamesakeRuns).
                    var message = new PresenceMessage(Leaving: false, _ownership.Instance, _ownership.Incarnation, waiting, holding, _leasesHere, standingBy, failing, _ownership.Upstreams, started, _ownership.StandingAsideFor);
                    try
                    {
                        await BeatAsync(new MessageProperties { Headers = message.Headers(listLinks: listClaims) }).ConfigureAwait(false);
                    }
                    catch (MessageRefusedException) when (listClaims)
                    {
                        // The list does not fit (a downstream with a small frame_max or max_payload): heartbeats say nothing of
                        // links from now on, as an older instance's do, rather than not at all.
                        listClaims = false;
                        await BeatAsync(new MessageProperties { Headers = message.Headers(listLinks: false) }).ConfigureAwait(false);
                    }

                    if (beacons is not null && !await beacons.BeatAsync(_ownership.HeldFlows(), cancellationToken).ConfigureAwait(false))
                    {
                        // Closed in the background: a publisher that failed may take as long to close as it took to fail, and
                        // the next heartbeat must not wait for it (a gap of the presence timeout makes the others drop this one).
                        CloseInBackground(beacons, connection);
                        beacons = null;
                    }

                    TickAndLog(session.ClusterName);
                    await Task.Delay(_ownership.Timings.HeartbeatEvery, _time, cancellationToken).ConfigureAwait(false);
                }

                // A publish that blocks (flow control) must not hold up a stop, nor the ticks for long.
                Task BeatAsync(MessageProperties properties) =>
                    publisher.PublishAsync(exchange, string.Empty, properties, alive, cancellationToken).AsTask()
                        .WaitAsync(_ownership.Timings.LiveFor, _time, cancellationToken);
            }
            finally
            {
                if (beacons is not null)
                {
                    await CloseAsync(beacons, connection).ConfigureAwait(false);
                }

                await CloseAsync(publisher, connection).ConfigureAwait(false);
            }
        }
        finally
        {
            await CloseAsync(consumer, connection).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Binds this instance's presence queue to the exchange all federations share and opens the beacon publisher on its own
    /// channel, so that a refusal there (no permission on the exchange, an operator who deleted it) costs the beacons only,
    /// never the heartbeats (unless RabbitMQ.Client's close-ok race makes the broker close the whole publishing connection,
    /// which the next heartbeat opens again; see the AMQP adapter's publishing connection). Null when that fails: logged
    /// once per session, at information, since an instance that cannot tell other federations about itself still
    /// federates correctly.
    /// </summary>
    private async Task<FederationBeacons?> OpenBeaconsAsync(IBrokerConnection connection, string queue, string clusterName, CancellationToken cancellationToken)
    {
        try
        {
            await connection.DeclareExchangeAsync(new ExchangeSpec(FederationBeacon.Exchange, ExchangeSpec.Types.Fanout, Durable: false), cancellationToken).ConfigureAwait(false);
            await connection.BindAsync(new BindingSpec(FederationBeacon.Exchange, queue, BindingDestinationKind.Queue, string.Empty), noWait: false, cancellationToken).ConfigureAwait(false);
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), cancellationToken).ConfigureAwait(false);
            // A beacon publish is given up after one heartbeat interval (a heartbeat's after the presence timeout): the heartbeat
            // that follows it waits for it, and must come before the others' presence timeout runs out.
            return new FederationBeacons(publisher, new FederationBeacon(clusterName, _ownership.Instance, _ownership.Incarnation, new HashSet<string>()), _ownership.Timings.HeartbeatEvery, _time, _logger);
        }
#pragma warning disable CA1031 // Beacons are best effort: whatever refuses them is logged, and presence goes on without them.
        catch (Exception ex) when ((ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested) && !connection.Completion.IsCompleted)
#pragma warning restore CA1031
        {
            Log.BeaconsUnavailable(_logger, ex, _ownership.Instance, FederationBeacon.Exchange, UriRedaction.RedactText(FailureEpisodeCause(ex)));
            return null;
        }
    }

    /// <summary>
    /// Closes the heartbeat publisher or the subscription, within <see cref="OwnershipTimings.LeaveWithin"/>. Once their
    /// connection is gone, closing them is no failure to announce, whatever it throws (a client may refuse any call on a
    /// connection it disposed), and must not keep the heartbeats from the session that replaces it: what does not finish
    /// in time goes on in the background.
    /// </summary>
    private async Task CloseAsync(IAsyncDisposable resource, IBrokerConnection connection)
    {
        var closing = Task.Run(async () => await resource.DisposeAsync().ConfigureAwait(false));
        try
        {
            await closing.WaitAsync(_ownership.Timings.LeaveWithin).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // See the summary: only a failure on a live connection is worth reporting.
        catch (Exception ex) when (connection.Completion.IsCompleted || ex is TimeoutException)
#pragma warning restore CA1031
        {
            _ = closing.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            Log.PresenceFailed(_logger, ex, _ownership.Instance);
        }
    }

    /// <summary>Closes <paramref name="resource"/> as <see cref="CloseAsync"/> does, without waiting for it.</summary>
    private void CloseInBackground(IAsyncDisposable resource, IBrokerConnection connection) =>
        _ = Task.Run(async () =>
        {
            try
            {
                await CloseAsync(resource, connection).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Nobody waits for this task: a failure to close is logged, never left unobserved.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.PresenceFailed(_logger, ex, _ownership.Instance);
            }
        });

    private static string FailureEpisodeCause(Exception exception) => Diagnostics.FailureEpisode.Describe(exception);

    private ValueTask OnHeardAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        if (FederationBeacon.Decode(delivery.Body.Span, delivery.Properties.Headers) is { } beacon)
        {
            // This federation's own instances are heard on its presence exchange; a beacon tells only of others.
            if (_announcedOn is { } session && !string.Equals(beacon.Cluster, session.ClusterName, StringComparison.Ordinal) && beacon.Incarnation != _ownership.Incarnation)
            {
                _ownership.HeardOtherFederation(beacon);
            }

            return ValueTask.CompletedTask;
        }

        switch (PresenceMessage.Decode(delivery.Body.Span, delivery.Properties.Headers))
        {
            case { Leaving: true } leaving when IsNamesake(leaving):
                LogNamesakes(_ownership.LeftNamesake(leaving.Incarnation));
                break;
            case { Leaving: true } leaving:
                _ownership.Left(leaving.Instance, leaving.Incarnation);
                break;
            case { } alive when IsNamesake(alive):
                LogNamesakes(_ownership.HeardNamesake(alive.Incarnation, alive.Started, alive.Waiting, alive.Holding, alive.StandingBy));
                break;
            case { } alive:
                // A run that stands aside for an earlier run of its name does not speak for that name: the roster keeps the
                // run that acts under it, rather than flip between the two at every heartbeat. Its own heartbeat still
                // proves that its downstream carries them (OwnHeartbeatsUnheard): a run aside that ignored it reported its
                // downstream as maybe frozen after the presence timeout.
                if (alive.AsideFor is null || alive.Incarnation == _ownership.Incarnation)
                {
                    _ownership.Heard(alive.Instance, alive.Incarnation, alive.Waiting, alive.Holding, alive.StandingBy, alive.Failing, alive.Upstreams);
                }

                NoticeLeases(alive);
                break;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Warns, once per run of the other instance, when it keeps its leases somewhere else than this one (another
    /// <c>lease-bucket</c>, say): the leases then do not exclude each other, and a link both take runs twice. Placement
    /// still counts the other instance: the links it holds are flagged as held twice (see <see cref="SharedHolding"/>).
    /// </summary>
    private void NoticeLeases(PresenceMessage alive)
    {
        if (alive.Instance == _ownership.Instance || _leasesHere is not { } here || alive.Leases is not { } there || string.Equals(here, there, StringComparison.Ordinal))
        {
            return;
        }

        lock (_leasesWarnedSync)
        {
            if (!_leasesWarned.Add((alive.Incarnation, there)))
            {
                return;
            }
        }

        Log.LeasesElsewhere(_logger, _ownership.Instance, _announcedOn?.ClusterName ?? "?", PrintableText.Escape(alive.Instance), here, PrintableText.Escape(there));
    }

    /// <summary>Another run under this instance's own name (an operator's mistake), not this run's own heartbeat.</summary>
    private bool IsNamesake(PresenceMessage message) =>
        string.Equals(message.Instance, _ownership.Instance, StringComparison.Ordinal) && !string.Equals(message.Incarnation, _ownership.Incarnation, StringComparison.Ordinal);

    /// <summary>
    /// Logs what changed about the runs under this instance's name: once per later run heard (this run acts), once when
    /// this run starts standing aside for an earlier one, once when it acts again. Never per heartbeat.
    /// </summary>
    private void LogNamesakes(IReadOnlyList<NamesakeNotice> notices)
    {
        var instance = PrintableText.Escape(_ownership.Instance);
        var cluster = _announcedOn?.ClusterName ?? "?";
        foreach (var notice in notices)
        {
            var other = PrintableText.Escape(notice.Incarnation);
            switch (notice.Kind)
            {
                case NamesakeNoticeKind.Heard:
                    Log.NamesakeHeard(_logger, instance, cluster, other, _ownership.Incarnation);
                    break;
                case NamesakeNoticeKind.StandingAside:
                    Log.NamesakeStandingAside(_logger, instance, cluster, other, _ownership.Incarnation);
                    break;
                case NamesakeNoticeKind.Resumed:
                    Log.NamesakeResumed(_logger, instance, cluster, other, _ownership.Incarnation);
                    break;
            }
        }
    }

    /// <summary>How many runs of other instances are remembered as warned about (tests look).</summary>
    internal int LeaseWarningsKept
    {
        get
        {
            lock (_leasesWarnedSync)
            {
                return _leasesWarned.Count;
            }
        }
    }

    /// <summary>Drops the warnings about runs no longer in the roster: each restart of another instance is a new run.</summary>
    private void ForgetGoneWarnings()
    {
        lock (_leasesWarnedSync)
        {
            if (_leasesWarned.Count > 0)
            {
                _leasesWarned.RemoveWhere(warned => !_ownership.Knows(warned.Incarnation));
            }
        }
    }

    private void TickAndLog(string? clusterName)
    {
        ForgetGoneWarnings();
        LogNamesakes(_ownership.ExpireNamesakes());
        foreach (var shared in _ownership.Tick())
        {
            if (shared.Others is { } others)
            {
                Log.LeaseHeldTwice(_logger, shared.LinkId, shared.LeaseName, _ownership.Instance, string.Join("', '", others.Select(PrintableText.Escape)));
            }
            else
            {
                Log.LeaseNoLongerHeldTwice(_logger, shared.LinkId, shared.LeaseName, _ownership.Instance);
            }
        }

        // Named as the federation this instance is in now: a reload that renames it stops the links, which ends the overlaps,
        // while the session announced on still has the old name (the new one comes with the next connection).
        var federation = _configuredClusterName() ?? clusterName;
        foreach (var overlap in _ownership.FindOtherFederations())
        {
            if (overlap.Links is { } links)
            {
                Log.OtherFederationCarriesLinks(_logger, _ownership.Instance, federation ?? "?", PrintableText.Escape(overlap.Instance), PrintableText.Escape(overlap.Cluster), links.Count, string.Join(", ", links));
            }
            else
            {
                Log.OtherFederationNoLongerCarriesLinks(_logger, _ownership.Instance, federation ?? "?", PrintableText.Escape(overlap.Instance), PrintableText.Escape(overlap.Cluster));
            }
        }

        // Not before this instance has announced itself: until then it knows neither the federation's name nor whom it hears.
        var live = _ownership.LiveInstances;
        if (clusterName is not null && !live.SequenceEqual(_liveLogged, StringComparer.Ordinal))
        {
            _liveLogged = live;
            Log.InstancesChanged(_logger, _ownership.Instance, clusterName, live.Count, PrintableText.Escape(string.Join(", ", live)));
        }
    }
}
