using Federation.Core.Diagnostics;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// One federation link: a (downstream exchange, upstream element) pair. It runs a connect / declare / replay / consume
/// loop with the plugin's reconnect rule (first retry immediate, then <c>reconnect-delay</c>, growing exponentially with
/// jitter unless <c>reconnect-backoff</c> is <c>fixed</c>; see <see cref="ReconnectBackoff"/>), rotating over the upstream's URIs.
/// </summary>
internal sealed partial class ExchangeLink : IAsyncDisposable
{
    private static readonly TimeSpan DrainTimeout = StopDeadline.DrainTimeout;

    /// <summary>Failed attempts in a row after which a link lets its lease go to another live instance.</summary>
    internal const int FailuresBeforeGivingUp = 3;

    private readonly TransportResolver _transports;
    private readonly DownstreamHandle _downstream;
    private readonly ExchangeBindings _bindings;
    private readonly BindingFeed _feed = new();
    private readonly LinkCounters _counters;
    private LinkSessionContext _sessionContext;
    private LinkDefinition _definition;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly FailureEpisode _failures = new();
    private CancellationTokenSource? _currentRun;
    private volatile bool _restartRequested;
    private volatile bool _cleanupOnStop;
    private volatile string? _discarding;
    private volatile string? _stoppedFor;
    private volatile bool _dropLedger;
    private volatile StopDeadline? _stopDeadline;

    // Whether a session shut down with the stop, and so took on what the stop asked for (the cleanup, the ledger's drop):
    // none is left for StopAsync to do. Written by the run loop only.
    private volatile bool _sessionShutDownWithStop;

    // Whether the last attempt to reach the upstream got through: a link that could not connect there leaves the cleanup of a
    // clean stop between runs to nobody rather than wait out another connect (a stop must not hang on a dead upstream). A
    // connect the stop itself cuts short says nothing of the upstream and leaves it as it was: under traffic, a downstream
    // exchange deleted fails the session and the link reconnects at once, so the stop often comes in the middle of that
    // connect, with the queue of the run before still bound upstream.
    private volatile bool _upstreamReached;

    // Whether any attempt has found out if the upstream can be reached: a link stopped before that keeps its queue for
    // another reason than one whose last attempt failed, and says so.
    private volatile bool _upstreamTried;

    // Whether a clean stop would have deleted the upstream queue: this instance held the link's lease (or the downstream
    // has none) and its last attempt reached the upstream. Written by StopAsync once the run loop is over.
    private volatile bool _heldUpstreamQueueAtStop;

    // Completed with true once the link's upstream queue is declared and bound (a run reached running here, or another
    // instance holds the lease and runs it), with false when the link stops first.
    private readonly TaskCompletionSource<bool> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Whether it was this instance that bound it (a run reached running here), not another that holds the lease.
    private volatile bool _boundHere;

    // Completed as the link is asked to stop, so that work beside the link (forwarding a retired queue) can wait for it
    // without a token of a source the link may dispose.
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private LinkStatus _status;
    private readonly LinkLease _lease;
    private readonly string _instanceName;

    // What the status says about the lease; written by the run loop only.
    private string? _leaseShown;
    private string? _leaseHolderShown;
    private string? _runningOnShown;
    private string? _waitingReason;
    private DateTimeOffset? _waitingSince;

    // The reasons logged (event 1101) since the link last held its lease. A link standing by for another instance asks
    // for the lease at every fallback period, is refused ("held by ..."), and stands by again: its reason alternates
    // between the two for as long as it waits, and logging each change repeated both lines every 15-30 s per link.
    private readonly HashSet<string> _waitingReasonsLogged = new(StringComparer.Ordinal);

    public ExchangeLink(
        LinkDefinition definition,
        TransportResolver transports,
        DownstreamHandle downstream,
        ExchangeBindings bindings,
        LinkGenerations generations,
        FederationTelemetry telemetry,
        ILogger logger,
        TimeProvider time,
        string instanceName,
        LinkOwnership? ownership = null,
        LinkDrops? drops = null)
    {
        _definition = definition;
        _transports = transports;
        _downstream = downstream;
        _bindings = bindings;
        _logger = logger;
        _counters = new LinkCounters(definition, instanceName, telemetry, logger, time, drops);
        _time = time;
        _sessionContext = new LinkSessionContext(definition, bindings, _feed, generations, _counters, logger, time, new Deduplication.PendingRevocations());
        _instanceName = instanceName;
        var leaseName = LinkLease.NameFor(definition);
        _lease = new LinkLease(leaseName, instanceName, time, ownership?.Register(definition.Id, leaseName, Ownership.FlowFingerprints.Of(definition), $"{definition.Exchange.Name} <- {definition.Upstream.UpstreamName}"));
        _status = NewStatus(LinkState.Starting, UriRedaction.Redact(definition.Upstream.Uris[0]), null, null);
    }

    /// <summary>The definition the link runs; <see cref="Update"/> replaces it with one that moves messages alike. Any thread.</summary>
    public LinkDefinition Definition => Volatile.Read(ref _definition);

    /// <summary>What this link dropped, by reason (see <see cref="LinkReconciler"/>: they carry over to a replacement).</summary>
    public LinkDrops Drops => _counters.Drops;

    public LinkStatus Status
    {
        get
        {
            var status = Volatile.Read(ref _status);

            // The run loop may have built this entry from the definition before an update: the policy shown is the current one.
            var policy = Definition.PolicyName;
            if (status.Policy != policy)
            {
                status = status with { Policy = policy };
            }

            // Read live from the placement gate, which the heartbeats update, not from the run loop.
            if (_lease.Gate?.AlsoHeldBy is { } others)
            {
                status = status with { AlsoHeldBy = others };
            }

            if (_lease.Gate?.AlsoFederatedBy is { } otherFederations)
            {
                status = status with { AlsoFederatedBy = otherFederations };
            }

            // Waiting here for an instance whose heartbeats say the link fails there: it runs nowhere, so it is down here too
            // (listed by only-down, degrading health), not "run elsewhere".
            if (status is { State: LinkState.Waiting, RunningOn: { } runner } && runner != _instanceName && _lease.Gate?.FailsOn(runner) == true)
            {
                status = status with
                {
                    State = LinkState.Error,
                    Error = $"it fails on instance '{runner}', which holds its lease and runs it (see the link's status there for the cause), so it runs nowhere; this instance waits: {status.Waiting}",
                    Waiting = null,
                };
            }

            // Waiting for a holder that has gone silent (paused, cut off from the other instances): the broker keeps its
            // lease until it gives the holder's connection up (on AMQP after two to three missed heartbeats, 60-90 s by
            // default), and meanwhile the link runs nowhere. Before, every instance showed it waiting and stayed healthy.
            else if (status is { State: LinkState.Waiting, LeaseHolder: { } holder } && holder != _instanceName && _lease.Gate?.SilentSince(holder) is { } lastHeard)
            {
                status = status with
                {
                    State = LinkState.Error,
                    Error = $"its lease is held by instance '{holder}', which has not been heard from since {lastHeard.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'} (paused, cut off, or gone while its connection lingers), so it runs nowhere; this instance takes the link over once the downstream frees the lease (on AMQP when it gives the holder's connection up for missed heartbeats; on NATS when the lease's key expires): {status.Waiting}",
                    Waiting = null,
                };
            }

            // Standing by (it did not ask for the lease: placement puts the link on another instance) while the holder the
            // heartbeats last named has gone silent and no live instance holds the link: it runs nowhere, as the instance
            // that asks and is refused shows. Before, this instance showed it waiting, running on the instance placement
            // puts it on (which was refused the lease), and stayed healthy for the whole pause.
            else if (status is { State: LinkState.Waiting, LeaseHolder: null } && _lease.Gate?.SilentHolder is { } silent && silent.Instance != _instanceName)
            {
                status = status with
                {
                    State = LinkState.Error,
                    RunningOn = silent.Instance,
                    Error = $"its lease is held by instance '{silent.Instance}', which has not been heard from since {silent.LastHeard.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'} (paused, cut off, or gone while its connection lingers), as its last heartbeats said, and no live instance holds it, so it runs nowhere; another instance takes the link over once the downstream frees the lease (on AMQP when it gives the holder's connection up for missed heartbeats; on NATS when the lease's key expires): {status.Waiting}",
                    Waiting = null,
                };
            }

            return _counters.DropsByReason is { } dropped ? status with { DroppedMessages = dropped } : status;
        }
    }

    /// <summary>
    /// True once the link's upstream queue is declared and bound upstream (a run of it reached running, or another instance
    /// holds its lease or, by its heartbeats, runs it); false when the link stopped before. Any thread.
    /// </summary>
    public Task<bool> Bound => _bound.Task;

    /// <summary>Once <see cref="Bound"/> is true: whether a run of this instance bound the queue (not another instance that holds the lease). Any thread.</summary>
    public bool BoundHere => _boundHere;

    /// <summary>
    /// After <see cref="StopAsync"/>: whether the stop kept an upstream queue that a clean stop would have deleted (this
    /// instance held the link's lease, or the downstream has none, and its last attempt reached the upstream).
    /// </summary>
    public bool HeldUpstreamQueueAtStop => _heldUpstreamQueueAtStop;

    /// <summary>Whether the link was asked to stop. Any thread.</summary>
    public bool Stopping => _stopping.IsCancellationRequested;

    /// <summary>Completes as the link is asked to stop. Any thread.</summary>
    public Task StopRequested => _stopRequested.Task;

    /// <summary>
    /// The link whose upstream queue this one takes over (<see cref="RetiredUpstreamQueues"/>: a reload renamed the
    /// downstream), or null. Its runs declare their queue with the old one's (<see cref="QueueSpec.TakesOver"/>), so that
    /// a transport that can start the new queue where the old one stopped does (a JetStream durable consumer). Any thread.
    /// </summary>
    public LinkDefinition? TakesOver => Volatile.Read(ref _takesOver);

    private LinkDefinition? _takesOver;

    /// <summary>
    /// Says that this link takes the place of <paramref name="retired"/>, whose upstream queue it forwards and deletes once
    /// its own is bound (see <see cref="TakesOver"/>). Before <see cref="Start"/>, so that the first run declares its queue
    /// with it; the first one said stands.
    /// </summary>
    public void TakeOver(LinkDefinition retired) => Interlocked.CompareExchange(ref _takesOver, retired, null);

    /// <summary>Starts the run loop in the background.</summary>
    public void Start() => _loop = Task.Run(RunLoopAsync);

    /// <summary>
    /// Restarts the current run at once, keeping the upstream queue (no messages are lost). A connect attempt in flight is
    /// abandoned, and a link waiting out its reconnect delay tries again now.
    /// </summary>
    public void RequestRestart()
    {
        _restartRequested = true;
        try
        {
            _currentRun?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended at this moment; the loop starts the next one anyway.
        }
    }

    /// <summary>
    /// Takes over <paramref name="definition"/>, which moves messages as the running one does
    /// (<see cref="LinkDefinition.MovesMessagesAs"/>), without restarting: the session, its upstream queue and its
    /// connection go on. The status shows the new policy at once; the connection keeps the name it was opened with (a
    /// broker cannot rename a connection) until the link next connects. A new reconnect schedule applies from the next
    /// failure, a new cleanup mode when the link stops.
    /// </summary>
    public void Update(LinkDefinition definition)
    {
        if (!Definition.MovesMessagesAs(definition))
        {
            throw new InvalidOperationException($"Link {Definition.Id}: a definition that moves messages differently needs a restart, not an update.");
        }

        Volatile.Write(ref _sessionContext, _sessionContext with { Definition = definition });
        Volatile.Write(ref _definition, definition);
    }

    /// <summary>
    /// Stops the link. With <paramref name="cleanup"/> (a clean stop: reconfiguration, exchange deletion, shutdown), the upstream
    /// queue and internal exchange are deleted unless <c>resource-cleanup-mode</c> is <c>never</c>.
    /// </summary>
    /// <param name="cleanup">Delete the upstream objects (unless the mode is <c>never</c>).</param>
    /// <param name="discarding">Why that discards messages the link was meant to forward, for the warning that counts them; null for a plain clean stop.</param>
    /// <param name="stoppedFor">Why a plain clean stop deletes the queue, for the warning that counts what it held, if anything.</param>
    /// <param name="dropLedger">Delete the link's downstream ledger even without cleanup: another link takes its upstream queue over.</param>
    /// <param name="deadline">
    /// The engine stop's deadline, which the session's waits for the downstream and the lease's release share (see
    /// <see cref="StopDeadline"/>); null for a link that stops alone, whose session waits one drain timeout of its own.
    /// </param>
    public async Task StopAsync(bool cleanup, string? discarding = null, string? stoppedFor = null, bool dropLedger = false, StopDeadline? deadline = null)
    {
        _stopDeadline = deadline;
        _dropLedger = dropLedger;
        _discarding = discarding;
        _stoppedFor = stoppedFor ?? "the link stopped for good";
        _cleanupOnStop = cleanup && Definition.Upstream.ResourceCleanupMode != ResourceCleanupMode.Never;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _stopRequested.TrySetResult();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
            _heldUpstreamQueueAtStop = (_lease.Holding || _lease.DownstreamWithoutLeases) && _upstreamReached;
            if (_cleanupOnStop && !_sessionShutDownWithStop)
            {
                await CleanUpBetweenRunsAsync(deadline).ConfigureAwait(false);
            }
            else if (_dropLedger && !_sessionShutDownWithStop)
            {
                // Its queue goes to another link (another id, so another ledger), and no session of this one was there to
                // drop its ledger: it would stay on the downstream for good. Not while another instance may hold the lease
                // and run this link.
                var definition = Definition;
                await WithinStopLimitAsync(token => DropLedgerUnderLeaseAsync(definition, token), deadline).ConfigureAwait(false);
            }
        }

        DiscardPrepared();

        // The session is shut down and counts nothing more: an episode still settling ends here (a link that replaces this
        // one goes on counting in the same drops, and opens an episode of its own).
        _counters.Stopped();
        _bindings.Detach(_feed);

        // Only now, with the session shut down (and its upstream objects cleaned up or kept), may another engine take over.
        // At an engine stop, a release the downstream does not answer goes on in the background once the stop's deadline
        // has passed: the connection's close, next, gives the lease up anyway.
        await _lease.ReleaseForGoodAsync(deadline).ConfigureAwait(false);
        _bound.TrySetResult(false);
        _runningOnShown = null;
        SetStatus(LinkState.Shutdown, Status.Uri, null, null);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(cleanup: false).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task RunLoopAsync()
    {
        var uris = Definition.Upstream.Uris;
        var attempt = 0;
        var scheduledBy = Definition;
        var backoff = ReconnectBackoff.For(scheduledBy.Upstream);
        while (!_stopping.IsCancellationRequested)
        {
            // Rotate over the URIs, one per attempt, so every URI of the upstream gets tried.
            var uri = uris[attempt++ % uris.Count];

            // One token for the attempt and the wait after it, so a restart also cuts the reconnect delay short.
            using var run = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            _restartRequested = false;
            _currentRun = run;

            // A link that keeps failing stays in error (and visible as down) while it retries; "starting" is for a link
            // that has not failed yet, or was restarted by hand. A waiting link goes on waiting until it holds the lease.
            if (Status.State is not (LinkState.Error or LinkState.Waiting))
            {
                SetStatus(LinkState.Starting, UriRedaction.Redact(uri), null, null);
            }

            var forwardedBefore = _counters.ForwardedCount;
            try
            {
                await RunOnceAsync(uri, run.Token).ConfigureAwait(false);
                backoff.Reset();
                _failures.End();
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception) when (_restartRequested)
            {
                backoff.Reset();
                SetStatus(LinkState.Starting, UriRedaction.Redact(uri), null, null);
            }
            catch (Exception ex)
            {
                // The plugin's supervisor restarts a failed link at once, then waits reconnect-delay between attempts (here
                // growing from it, unless the backoff is fixed).
                // A run that stayed up for reconnect-delay made progress, so its failure gets the immediate retry again;
                // one that fails right after reaching running (a message the downstream refuses every time, such as one
                // over its max_message_size) must wait, or the link reconnects and replays its bindings in a hot loop
                // and its error is never visible in its status. A downstream refusal after a run that forwarded nothing is
                // no progress either, however long the run took to meet it: a full JetStream stream answers a link's
                // first publish a second or more after it started, and a short reconnect-delay then warned (1002) and
                // retried at once at every attempt (black-box run, 7 Dec 2026: 27 warnings in 35 s).
                var refusedWithoutProgress = (ex is PublishNackedException or UnitPartlyCommittedException) && _counters.ForwardedCount == forwardedBefore;
                if (!refusedWithoutProgress && Status is { State: LinkState.Running } running && _time.GetUtcNow() - running.Since >= Definition.Upstream.ReconnectDelay)
                {
                    backoff.Reset();
                    _failures.End();
                }

                // An update may have changed the schedule since the link started: the next wait follows the new one.
                if (Definition is var current && current.ReconnectsDifferentlyFrom(scheduledBy))
                {
                    scheduledBy = current;
                    backoff = ReconnectBackoff.For(current.Upstream);
                }

                var delay = backoff.NextDelay();
                var redacted = UriRedaction.Redact(uri);
                var cause = FailureEpisode.Describe(ex);
                SetStatus(LinkState.Error, redacted, cause, null);
                if (_lease.Holding)
                {
                    _lease.Gate?.RunFailed();
                }

                LogFailure(ex, redacted, cause, delay);
                await GiveUpLeaseIfOthersMayRunAsync(redacted, cause).ConfigureAwait(false);
                if (delay > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(delay, _time, run.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                    {
                        break;
                    }
                    catch (OperationCanceledException)
                    {
                        // Restart requested while waiting: try again now.
                        backoff.Reset();
                    }
                }
            }
            finally
            {
                _currentRun = null;
            }

            if (!_stopping.IsCancellationRequested)
            {
                _counters.Restarted();
            }
        }
    }

    /// <summary>
    /// After <see cref="FailuresBeforeGivingUp"/> failed attempts in a row, a link that holds its lease while another live
    /// instance of the federation has the link (its heartbeats hold, wait or stand by for it) lets go of it, so that one of
    /// them runs the link: what fails may be this instance's own configuration (a queue argument the upstream refuses, a
    /// stream it names that does not exist), and the others would otherwise stand by for it for good. It asks for the lease
    /// again only as a fallback (see <see cref="LinkPlacementGate.GaveUp"/>); when every instance fails the same way, the
    /// link moves once and stays. Live instances that do not have the link (other configurations) are no reason to let go:
    /// the link would then run nowhere while its status said it ran elsewhere, so it goes on retrying here, in error.
    /// </summary>
    private async Task GiveUpLeaseIfOthersMayRunAsync(string uri, string cause)
    {
        // Also when it failed here before (Failing) and took the lease back because nobody else claimed the link: whoever
        // has it now may run it. Only an instance that claims the link counts, and this one does not while it fails, so two
        // instances that both fail never hand the link back and forth.
        if (_lease.Gate is not { } gate || _failures.Failures < FailuresBeforeGivingUp || !_lease.Holding || !gate.OthersHaveLink)
        {
            return;
        }

        gate.GaveUp(cause);
        await _lease.ReleaseAsync().ConfigureAwait(false);

        // Until it stands by for the instance that takes it, the link shows its error, but no longer runs here.
        _runningOnShown = null;
        SetStatus(LinkState.Error, uri, cause, null);
        Log.LinkLeaseGivenUp(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, _lease.Name, _failures.Failures);
    }

    /// <summary>One warning when a failure episode starts, one summary while it lasts; every attempt's exception at debug.</summary>
    private void LogFailure(Exception exception, string uri, string cause, TimeSpan delay)
    {
        var step = _failures.Fail(cause);
        Log.LinkAttemptFailed(_logger, exception, Definition.Id, _failures.Failures, uri);
        switch (step)
        {
            case FailureLogStep.Started:
                Log.LinkFailed(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, uri, cause, delay);
                break;
            case FailureLogStep.Summary:
                Log.LinkStillFailing(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, _failures.Failures, uri, cause, delay);
                break;
            case FailureLogStep.Quiet:
                break;
        }
    }

    private async Task RunOnceAsync(string uri, CancellationToken cancellationToken)
    {
        // The lease first: an engine that does not hold it must not touch the upstream (declaring the queue is harmless,
        // but the A/B swap deletes the internal exchange the other engine's queue is bound to).
        var (downstream, lease) = await _lease.HoldAsync(_downstream, Definition, attempt => OnLeaseRefused(attempt, uri), cancellationToken, reason => OnStandingBy(reason, uri)).ConfigureAwait(false);
        OnLeaseHeld(lease, uri);
        if (lease is null)
        {
            await RunHoldingAsync(downstream, uri, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        // A lost lease (the downstream connection closed or died, so the broker gave the lease up, or somebody deleted the
        // lease on the broker) means another engine may take the link at its next poll: stop consuming at once.
        using var leaseHeld = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var runOver = new CancellationTokenSource();
        _ = lease.Lost.ContinueWith(static (_, state) => CancelQuietly((CancellationTokenSource)state!), leaseHeld, runOver.Token, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        // Placement moved the link to another instance: stop the run cleanly (the upstream queue stays), then let go.
        using var handover = _lease.Gate?.HandoverToken.Register(static state => CancelQuietly((CancellationTokenSource)state!), leaseHeld);
        try
        {
            await RunHoldingAsync(downstream, uri, lease, leaseHeld.Token).ConfigureAwait(false);
        }
        catch (Exception) when (_lease.Gate?.HandoverRequested == true && !lease.Lost.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            await HandOverAsync(uri).ConfigureAwait(false);
        }
        catch (Exception) when (!lease.IsHeld && !cancellationToken.IsCancellationRequested)
        {
            Log.LinkLeaseLost(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, _lease.Name);
            throw new ConnectionLostException($"The link lost its lease '{_lease.Name}' on the downstream (its connection closed, or the lease was deleted on the broker), so it stopped consuming.");
        }
        finally
        {
            await runOver.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Releases the lease for the instance placement prefers, or for the other holder of a link held twice that this instance
    /// yields to (see <see cref="LinkPlacementGate.YieldingTo"/>), and waits as any other non-holder.
    /// </summary>
    private async Task HandOverAsync(string uri)
    {
        var yieldingTo = _lease.Gate?.YieldingTo;
        var standingAside = _lease.Gate?.StandingAside == true;
        var target = yieldingTo ?? _lease.Gate?.HandedToInstance ?? "another instance";
        await _lease.ReleaseAsync().ConfigureAwait(false);
        if (standingAside)
        {
            // Event 1215 said why, once for all the links; the status says it for each as the link stands by.
        }
        else if (yieldingTo is not null)
        {
            Log.LinkYielded(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, _instanceName, _lease.Name, yieldingTo);
        }
        else
        {
            Log.LinkHandedOver(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, target);
        }

        _waitingSince = _time.GetUtcNow();
        _waitingReason = yieldingTo is null
            ? $"handed lease '{_lease.Name}' over to instance '{target}', where placement puts this link"
            : $"instance '{target}' held this link as well, under a lease that does not exclude lease '{_lease.Name}' of this instance, so the link ran twice; this instance stopped it and yields to '{target}' (the first by name)";
        _leaseShown = _lease.Name;
        _leaseHolderShown = null;
        _runningOnShown = target;
        SetStatus(LinkState.Waiting, UriRedaction.Redact(uri), null, null);
    }

    /// <summary>Status and log for a link that placement puts on another instance: it waits without asking for the lease.</summary>
    private void OnStandingBy(string reason, string uri)
    {
        DiscardPrepared();
        var first = _waitingSince is null;
        _waitingSince ??= _time.GetUtcNow();
        _leaseShown = _lease.Name;
        _leaseHolderShown = null;

        // Only an instance whose heartbeats claim the link: placement may name one that does not have it at all.
        _runningOnShown = _lease.Gate?.RunningOn;
        if (_runningOnShown is { } runner && runner != _instanceName)
        {
            // That instance runs the link: its upstream queue is declared and bound there.
            _bound.TrySetResult(true);
        }
        if (first || reason != _waitingReason)
        {
            _waitingReason = reason;
            LogWaitingOnce(reason);
        }

        var current = Volatile.Read(ref _status);
        if (_runningOnShown is null && current.State == LinkState.Error)
        {
            // A link that failed here stays down while no other instance claims it (after a downstream reconnect it stands by
            // for two heartbeats in case the instance placement prefers asks): "waiting" would report it as run elsewhere.
            Volatile.Write(ref _status, current with { Lease = _leaseShown, LeaseHolder = null, RunningOn = null });
            return;
        }

        SetStatus(LinkState.Waiting, UriRedaction.Redact(uri), null, null);
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended at this moment; nothing left to stop.
        }
    }

    /// <summary>Status and log for a lease another engine holds: the link waits, and says on whom.</summary>
    private void OnLeaseRefused(LeaseAttempt attempt, string uri)
    {
        DiscardPrepared();
        var holder = attempt.Holder is { } known ? $"'{known}'" : "another connection (the broker does not tell which)";
        var reason = $"lease '{_lease.Name}' on the downstream is held by {holder}, which runs this link; polling until it is free";
        var first = _waitingSince is null;
        _waitingSince ??= _time.GetUtcNow();
        _leaseShown = _lease.Name;
        _leaseHolderShown = attempt.Holder;
        _runningOnShown = attempt.Holder ?? _lease.Gate?.RunningOn;

        // The holder runs the link: its upstream queue is declared and bound there.
        _bound.TrySetResult(true);
        if (first || reason != _waitingReason)
        {
            _waitingReason = reason;
            LogWaitingOnce(reason);
            SetStatus(LinkState.Waiting, UriRedaction.Redact(uri), null, null);
        }
    }

    /// <summary>Logs why the link waits (event 1101), each reason once while it waits; the status always shows the current one.</summary>
    private void LogWaitingOnce(string reason)
    {
        if (_waitingReasonsLogged.Add(reason))
        {
            Log.LinkWaiting(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, reason);
        }
    }

    private void OnLeaseHeld(IBrokerLease? lease, string uri)
    {
        _leaseShown = lease?.Name;
        _leaseHolderShown = lease?.Holder;
        _runningOnShown = _instanceName;
        _waitingReason = null;
        _waitingReasonsLogged.Clear();
        if (_waitingSince is { } since)
        {
            _waitingSince = null;
            Log.LinkLeaseTaken(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, _lease.Name, _time.GetUtcNow() - since);
            SetStatus(LinkState.Starting, UriRedaction.Redact(uri), null, null);
        }

        // Why the link will not go where placement puts it: without this line the spread stays uneven with nothing said.
        if (_lease.Gate?.TakeNotTakenNotice() is { } untaken)
        {
            Log.LinkKeptFromUntakenHandover(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, _lease.Name, PrintableText.Escape(untaken));
        }
    }

    private async Task RunHoldingAsync(DownstreamSession downstream, string uri, IBrokerLease? lease, CancellationToken cancellationToken)
    {
        var transport = _transports.Resolve(uri);
        var connectionName = UpstreamNaming.ConnectionName(Definition.Upstream.UpstreamName, Definition.PolicyName);
        IBrokerConnection upstream;
        try
        {
            // A reload that switched the kind of upstream queue declared and bound this run's queue before the old run
            // stopped (UpstreamPreparation): it holds what the upstream published since, so the run consumes it there.
            upstream = TakePrepared() ?? await ConnectDeadline.ConnectAsync(transport, new ConnectionRequest(uri, connectionName), _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Only a connect that failed by itself: one that a stop (or a restart) cut short says nothing about the
            // upstream, and what the last attempt found stands.
            _upstreamReached = false;
            _upstreamTried = true;
            throw;
        }

        _upstreamReached = true;
        _upstreamTried = true;
        var session = new LinkSession(Volatile.Read(ref _sessionContext), downstream, upstream, lease)
        {
            TakesOver = TakesOver,
            HandOverRefusedQueue = HandoverFor(transport, upstream, uri, downstream),
        };
        try
        {
            try
            {
                await session.SetUpAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                await WarnIfHandoverQueueStrandedAsync(transport, upstream, session.QueueName, ex, cancellationToken).ConfigureAwait(false);
                throw;
            }

            _handoverStrandedTold = false;
            // A transport's display URI should be redacted already; redacting again is a no-op then, and a safety net otherwise.
            var displayUri = UriRedaction.Redact(upstream.DisplayUri);
            SetStatus(LinkState.Running, displayUri, null, connectionName);
            _boundHere = !_bound.Task.IsCompleted || _boundHere;
            _bound.TrySetResult(true);
            Volatile.Write(ref _running, session);
            _lease.Gate?.Succeeded();
            Log.LinkRunning(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, displayUri, session.QueueName, session.Generation);
            if (_failures.Up() is > 0 and var failed)
            {
                Log.LinkRecovered(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, failed);
            }

            await ForwardHandoverQueueAsync(transport, upstream, session.QueueName, uri, downstream, cancellationToken).ConfigureAwait(false);
            await session.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _running, null);
            var stopped = _stopping.IsCancellationRequested;
            var cleanup = stopped && _cleanupOnStop;
            _sessionShutDownWithStop = stopped;
            var downstreamDeadline = stopped ? _stopDeadline?.Passed : null;
            var outcome = await session.ShutDownAsync(cleanup, DrainTimeout, _discarding, _stoppedFor, stopped && _dropLedger, downstreamDeadline).ConfigureAwait(false);

            // A clean stop that came while a failed session shut down is StopAsync's to clean up after, and to log: "kept"
            // here, then "deleted" there, told the operator both.
            if (_stopping.IsCancellationRequested && (stopped || !_cleanupOnStop))
            {
                Log.LinkStopped(_logger, Definition.Id, Definition.Exchange.Name, Definition.Upstream.UpstreamName, outcome);
            }
        }
    }

    private const string NotHoldingTheLease = "kept (this instance does not hold the link's lease, so another may run it from its queue)";

    /// <summary>
    /// The cleanup of a clean stop that no session took on: the link was between two runs (failing, or waiting out its
    /// reconnect delay, after its last run reached the upstream), or its session had failed just before the stop (a downstream
    /// exchange deleted under traffic fails the session's publishes before the deletion reaches the engine). Without this, the queue of a link stopped for good
    /// stayed bound on the upstream and went on filling, and a link declared again later took it back with its stale
    /// backlog. Deleted as the session would have, with what the queue held counted (event 1028) and the ledger dropped;
    /// only while this instance holds the link's lease (or the downstream has no leases), since otherwise another instance
    /// may run the link from that queue. Bounded by the drain timeout (and an engine stop's deadline); a failure leaves the
    /// objects where they are, logged.
    /// </summary>
    private async Task CleanUpBetweenRunsAsync(StopDeadline? deadline)
    {
        var definition = Definition;
        if (!_upstreamReached)
        {
            // Nothing of its own to delete: a link that only ever waited for another holder says so first.
            var reason = !_lease.Holding && !_lease.DownstreamWithoutLeases ? NotHoldingTheLease
                : _upstreamTried ? "kept (its last attempt could not reach the upstream)" : "kept (it stopped before its first attempt reached the upstream)";
            Log.LinkStopped(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, reason);
            return;
        }

        Task<string>? cleaning = null;
        var finished = await WithinStopLimitAsync(token => cleaning = CleanUpUnderLeaseAsync(definition, token), deadline).ConfigureAwait(false);

        // Told here, once, however the cleanup went: one that fails or runs out of time is a stop all the same.
        var outcome = finished ? cleaning!.Result : CleanupOutcome.TimedOut;
        Log.LinkStopped(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, outcome);
    }

    /// <summary>
    /// Runs a stop's work without a session, bounded by the drain timeout and, at an engine stop, by its deadline; work that
    /// does not finish in time is cancelled and left to end in the background. Returns whether it finished.
    /// </summary>
    private async Task<bool> WithinStopLimitAsync(Func<CancellationToken, Task> work, StopDeadline? deadline)
    {
        using var limit = new CancellationTokenSource(DrainTimeout, _time);
        var running = work(limit.Token);
        var finished = deadline is null ? await WithinDrainTimeoutAsync(running).ConfigureAwait(false) : await deadline.WaitAsync(running).ConfigureAwait(false);
        if (!finished)
        {
            await limit.CancelAsync().ConfigureAwait(false);
        }

        return finished;
    }

    private async Task<bool> WithinDrainTimeoutAsync(Task work)
    {
        using var done = new CancellationTokenSource();
        await Task.WhenAny(work, Task.Delay(DrainTimeout, _time, done.Token)).ConfigureAwait(false);
        await done.CancelAsync().ConfigureAwait(false); // no timer left behind for every stop
        return work.IsCompleted;
    }

    /// <summary>
    /// Deletes the objects under the link's lease. The downstream as the lease last found it, not as the last run did: a run
    /// without leases says nothing of a later session that has them, where another instance may hold the lease and run the
    /// link from the queue. A lease that is not held is asked for once on the live session, since it may have been lost only
    /// moments before the stop, with the downstream connection: a CI run (7 Dec 2026) had RabbitMQ close the whole connection
    /// over RabbitMQ.Client's close-ok race (rabbitmq-dotnet-client #1835, publishes racing the deletion of their exchange;
    /// the AMQP publishers have a connection of their own since), the engine reconnect, and the stop of the link whose
    /// exchange had been deleted come right after; its queue then stayed on the upstream, filling. Only the lease decides:
    /// another instance that holds it may run the link from the queue, and the queue stays.
    /// </summary>
    private async Task<string> CleanUpUnderLeaseAsync(LinkDefinition definition, CancellationToken cancellationToken)
    {
        var (refusal, askFailure) = await TakeLostLeaseAsync(definition, cancellationToken).ConfigureAwait(false);
        if (askFailure is not null)
        {
            return $"{NotHoldingTheLease[..^1]}: asking for it failed: {FailureEpisode.Describe(askFailure)})";
        }

        if (refusal is not null)
        {
            return $"{NotHoldingTheLease[..^1]}: {refusal})";
        }

        return await CleanUpWithoutSessionAsync(definition, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks once, on the live session, for the link's lease when it is not held (see <see cref="CleanUpUnderLeaseAsync"/>
    /// for why a stop asks). Returns null when the lease is held (already, or now) or the downstream has no leases; else why
    /// not: the refusal (another holder), or the failure to ask.
    /// </summary>
    private async Task<(string? Refusal, Exception? AskFailure)> TakeLostLeaseAsync(LinkDefinition definition, CancellationToken cancellationToken)
    {
        if (_lease.Holding || _lease.DownstreamWithoutLeases)
        {
            return (null, null);
        }

        try
        {
            return (await _lease.TryTakeForCleanupAsync(_downstream, definition, cancellationToken).ConfigureAwait(false), null);
        }
        catch (Exception ex) when (ex is TransportException or OperationCanceledException)
        {
            return (null, ex);
        }
    }

    /// <summary>
    /// Drops the ledger of a link that stops for good without a session, its queue going to another link: under its lease,
    /// asked for once when not held, as <see cref="CleanUpUnderLeaseAsync"/> does, since a lease lost with the downstream
    /// connection moments before the stop left the ledger on the downstream for good, and the queue unretired (see
    /// <see cref="HeldUpstreamQueueAtStop"/>). Another holder keeps both: it may run the link.
    /// </summary>
    private async Task DropLedgerUnderLeaseAsync(LinkDefinition definition, CancellationToken cancellationToken)
    {
        var heldBefore = _lease.Holding || _lease.DownstreamWithoutLeases;
        var (refusal, askFailure) = await TakeLostLeaseAsync(definition, cancellationToken).ConfigureAwait(false);
        if (askFailure is not null && Deduplication.LedgerDeletion.KeepsOne(definition))
        {
            Log.LedgerCleanupFailed(_logger, definition.Id, UpstreamNaming.LedgerName(definition.Exchange.Name, definition.Upstream.UpstreamName, definition.Id), $"asking for the link's lease failed: {FailureEpisode.Describe(askFailure)}");
        }

        if (refusal is not null || askFailure is not null)
        {
            return;
        }

        if (!heldBefore)
        {
            // Held now, as it was until moments ago: what the stop says of the queue follows.
            _heldUpstreamQueueAtStop = _upstreamReached;
        }

        await DeleteLedgerWithoutSessionAsync(definition, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the objects and drops the ledger; returns what the stop's event 1003 says of the objects.</summary>
    private async Task<string> CleanUpWithoutSessionAsync(LinkDefinition definition, CancellationToken cancellationToken)
    {
        try
        {
            var why = _discarding ?? _stoppedFor ?? "the link stopped for good";
            var (queue, discarded) = await UpstreamObjects.DeleteAsync(definition, _transports, _time, _logger, why, cancellationToken).ConfigureAwait(false);
            if (_discarding is not null || discarded > 0)
            {
                Log.BufferedMessagesDiscarded(_logger, definition.Id, queue, discarded?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of", why);
            }
        }
#pragma warning disable CA1031 // A cleanup that fails leaves the objects where they are, as a session's failed cleanup does: logged, never thrown at the stop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.CleanupFailed(_logger, ex, definition.Id);
            return CleanupOutcome.DeletionFailed;
        }

        // Its ledger remembers deliveries from a queue nobody redelivers any more (see LinkSession.DeleteLedgerAsync).
        await DeleteLedgerWithoutSessionAsync(definition, cancellationToken).ConfigureAwait(false);
        return CleanupOutcome.Deleted;
    }

    /// <summary>Deletes the link's ledger on the downstream connection of the engine, when the link keeps one and it is up.</summary>
    private async Task DeleteLedgerWithoutSessionAsync(LinkDefinition definition, CancellationToken cancellationToken)
    {
        if (!Deduplication.LedgerDeletion.KeepsOne(definition) || _downstream.Current is not { IsCompletedSuccessfully: true } current || current.Result.Connection.Completion.IsCompleted)
        {
            return;
        }

        await Deduplication.LedgerDeletion.DeleteAsync(current.Result.Connection, definition, _logger, cancellationToken).ConfigureAwait(false);
    }

    private void SetStatus(LinkState state, string uri, string? error, string? localConnection) =>
        Volatile.Write(ref _status, NewStatus(state, uri, error, localConnection));

    private LinkStatus NewStatus(LinkState state, string uri, string? error, string? localConnection) => new LinkStatus(
        Definition.Id,
        Definition.Exchange.Name,
        Definition.UpstreamExchange,
        Definition.Upstream.UpstreamName,
        Definition.VirtualHost,
        uri,
        state,
        error,
        localConnection,
        Definition.PolicyName,
        _time.GetUtcNow())
    {
        Lease = _leaseShown,
        LeaseHolder = _leaseHolderShown,
        Instance = _instanceName,
        RunningOn = _runningOnShown,
        Waiting = state == LinkState.Waiting ? _waitingReason : null,
    };
}
