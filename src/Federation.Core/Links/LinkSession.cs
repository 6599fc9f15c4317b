using System.Diagnostics;
using Federation.Core.Diagnostics;
using Federation.Core.Hops;
using Federation.Core.Links.Deduplication;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// One connected generation of a link: the upstream connection, its queue and A/B internal exchange, the downstream
/// publisher and the upstream consumer. A session ends on any failure; the link then starts a new one.
/// </summary>
internal sealed partial class LinkSession
{
    /// <summary>
    /// How often a link checks its upstream (see <see cref="CheckUpstreamAsync"/>). The plugin's
    /// <c>internal_exchange_check_interval</c> is 90 s; an upstream exchange deleted and declared again routes nothing to
    /// the link until the check notices, so every message published meanwhile is lost while the link shows running (a
    /// black-box run lost 13,000 messages at 200/s in the 65 s before a 90 s check). The check costs two passive declares,
    /// whatever the number of bindings: every 10 s that is 0.2 round trips a second per link.
    /// </summary>
    internal static readonly TimeSpan InternalExchangeCheckInterval = TimeSpan.FromSeconds(10);

    private readonly LinkSessionContext _context;
    private readonly DownstreamSession _downstream;
    private readonly IBrokerConnection _upstream;
    private readonly IBrokerLease? _lease;
    private readonly LinkDefinition _definition;
    private readonly ResolvedUpstream _settings;
    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Replaced, with _consumer, when a drain consumes its queue again (see ConsumeRetiredQueueAsync).
    private TaskCompletionSource<IMessageConsumer> _consumerReady = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ForwardSpanNames _spanNames;
    private IMessagePublisher? _publisher;
    private IMessageConsumer? _consumer;
    private ReceivedFromEntry _entry = null!;
    private ReceivedFromEntry _redeliveredEntry = null!;
    private SharedTrailEntry _trailEntry = null!;
    private SharedTrailEntry _redeliveredTrailEntry = null!;
    // Lent to each forwarded message that arrives without headers, when its properties die with the publish call (see Forward).
    private readonly Dictionary<string, object?> _lentHeaders = new(StringComparer.Ordinal);
    // Replaced when a drain consumes its queue again: a new consumer's delivery tags start over.
    private ContiguousAckTracker _acks = new();
    private int _inFlight;
    private int _ackFlushRunning;
    private Task _ackFlush = Task.CompletedTask;
    private volatile bool _accepting = true;

    // Whether this session's sentinel is in place upstream (see SetUpSentinelAsync); the mirroring loop alone uses it.
    private bool _sentinel;

    /// <summary>
    /// When the upstream consumer does not bound its deliveries by the prefetch (no-ack mode, or a consumer that does not
    /// enforce it), the most forwards that may wait for the downstream before the consumer waits (prefetch-count).
    /// </summary>
    private readonly int _inFlightWindow;

    /// <summary>
    /// The name this link's downstream broker advertises, when the configured cluster name is another; null when they agree.
    /// Links that read from that broker write the name it advertises into the trail (as the plugin does, from the
    /// connection), so a message that left it comes back with that name, not the configured one: the cycle check looks for
    /// both, and propagated bindings carry it so that the upstream side's check, which compares with the name its upstream
    /// advertises, finds them. Also null when this link's upstream advertises the same name for the same vhost: two brokers
    /// that advertise one name are told apart by the configured names alone, and the advertised one would make every
    /// message and binding from that upstream look like a cycle.
    /// </summary>
    private readonly string? _downstreamAlias;

    /// <param name="context">What the link's sessions share.</param>
    /// <param name="downstream">The downstream session.</param>
    /// <param name="upstream">The upstream connection of this session.</param>
    /// <param name="lease">The lease the link holds, checked before each forward; null without leases.</param>
    public LinkSession(LinkSessionContext context, DownstreamSession downstream, IBrokerConnection upstream, IBrokerLease? lease = null)
    {
        _context = context;
        _lease = lease;
        _downstream = downstream;
        _upstream = upstream;
        _definition = context.Definition;
        _settings = _definition.Upstream;
        _spanNames = new ForwardSpanNames(
            _definition.UpstreamExchange,
            MessagingAttributes.SystemOf(upstream.DisplayUri),
            _definition.Exchange.Name,
            MessagingAttributes.SystemOf(downstream.Connection.DisplayUri),
            _settings.UpstreamName);
        _inFlightWindow = Math.Max(1, _settings.PrefetchCount);
        _downstreamAlias = downstream.Connection.ClusterName is { } advertised
            && advertised != _definition.ClusterName
            && !(advertised == upstream.ClusterName && upstream.VirtualHost == _definition.VirtualHost)
            ? advertised
            : null;
        QueueName = "";
        InternalExchange = "";
    }

    public string QueueName { get; private set; }

    /// <summary>
    /// The link whose upstream queue this session's queue takes over (<see cref="ExchangeLink.TakesOver"/>), or null: the
    /// queue is declared with the old one's name (<see cref="QueueSpec.TakesOver"/>).
    /// </summary>
    public LinkDefinition? TakesOver { get; init; }

    /// <summary>
    /// What moves the link's upstream queue aside when the upstream refuses to declare it with the link's arguments (it
    /// exists with others): forwards what it holds and deletes it, while a handover queue receives in its place
    /// (<c>ExchangeLink.Handover</c>). Returns false when the queue does not exist, so the refusal is about something
    /// else, and stands. Null where the queue is not handed over (<c>resource-cleanup-mode: never</c>, a transport that
    /// ignores queue arguments): the refusal fails the run. Where it is set, the session's cleanup also deletes the
    /// handover queue.
    /// </summary>
    public Func<string, CancellationToken, Task<bool>>? HandOverRefusedQueue { get; init; }

    public string InternalExchange { get; private set; }

    public char Generation { get; private set; }

    /// <summary>Declares the upstream objects, swaps the internal exchange generation, replays bindings and starts consuming.</summary>
    public async Task SetUpAsync(CancellationToken cancellationToken)
    {
        await DeclareAndBindAsync(cancellationToken).ConfigureAwait(false);
        await StartForwardingAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Declares and binds the upstream objects as <see cref="SetUpAsync"/> does, and goes no further: nothing is consumed,
    /// published or recorded in a ledger. The queue then receives what the upstream exchange routes to the link (a JetStream
    /// durable consumer starts capturing; core NATS subscriptions start buffering in this connection), for a later session on
    /// the same connection to consume (<see cref="UpstreamPreparation"/>). Replays the bindings through a feed of its own,
    /// detached at once: the session that consumes replays them again.
    /// </summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            await DeclareAndBindAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _context.Bindings.Detach(_context.Feed);
        }
    }

    private async Task DeclareAndBindAsync(CancellationToken cancellationToken)
    {
        var upstreamExchange = _definition.UpstreamExchange;
        var upstreamVhost = _upstream.VirtualHost;
        InitializeTrailEntries();
        // The downstream's names come from the definition, not the session: the link's id, lease and ledger follow from the
        // definition, so its queue, binding trail and cycle check must name the same downstream even if a session under
        // another name reached it (LinkLease.HoldAsync refuses such a session; this keeps the two from ever disagreeing).
        QueueName = UpstreamNaming.QueueName(upstreamExchange, _definition.ClusterName, _definition.VirtualHost, _definition.Exchange.Name, upstreamVhost);

        try
        {
            var retired = TakesOver is { } old ? UpstreamObjects.QueueName(old, _upstream) : null;
            var queue = new QueueSpec(QueueName, Durable: true, Arguments: UpstreamQueueDeclaration.Arguments(_settings)) { TakesOver = retired != QueueName ? retired : null };
            try
            {
                await _upstream.DeclareQueueAsync(queue, cancellationToken).ConfigureAwait(false);
            }
            catch (PreconditionFailedException) when (HandOverRefusedQueue is not null)
            {
                // The queue exists with other arguments (a reload changed message-ttl, expires or queue-type, or another
                // configuration declared it): it is handed over to a queue declared anew rather than left failing with 406.
                if (!await HandOverRefusedQueue(QueueName, cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }

                await _upstream.DeclareQueueAsync(queue, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NameTooLongException tooLong) when (tooLong.Name == QueueName)
        {
            // The plugin's name, which other instances and the plugin itself use for this link: it cannot be shortened as
            // our own names are, so the link cannot run. Said in the link's terms: the transport only knows a queue name.
            throw new NameTooLongException(
                $"Exchange '{_definition.Exchange.Name}' cannot be federated from upstream '{_settings.UpstreamName}': its upstream queue, named as the federation plugin names it ('{QueueName}'), "
                + $"would be {System.Text.Encoding.UTF8.GetByteCount(QueueName)} bytes of UTF-8, over the upstream broker's limit of {tooLong.MaxBytes} bytes for a name. A shorter exchange name (or downstream cluster name) is needed.",
                QueueName,
                tooLong.MaxBytes,
                tooLong);
        }

        // A missing upstream exchange is created as a mirror of the downstream one, as the plugin does.
        if (!await _upstream.ExchangeExistsAsync(upstreamExchange, cancellationToken).ConfigureAwait(false))
        {
            await _upstream.DeclareExchangeAsync(_definition.Exchange with { Name = upstreamExchange }, cancellationToken).ConfigureAwait(false);
        }

        // Before the bindings go up, so that a deletion of the upstream exchange while they do is noticed at the first check.
        _sentinel = await SetUpSentinelAsync(cancellationToken).ConfigureAwait(false);

        // A/B swap: build the new generation while the queue is still bound to the old one, so capture has no gap,
        // then drop the old one; upstream bindings whose downstream binding vanished while we were away go with it.
        var (previous, both) = await PreviousGenerationAsync(cancellationToken).ConfigureAwait(false);
        Generation = previous == 'A' ? 'B' : 'A';
        InternalExchange = UpstreamNaming.InternalExchangeName(QueueName, Generation);
        if (!both)
        {
            // A leftover of the new generation starts empty, so that bindings dropped downstream meanwhile do not linger.
            await _upstream.DeleteExchangeAsync(InternalExchange, cancellationToken).ConfigureAwait(false);
        }

        // With both present (a swap cut short: killed, or cancelled by a lost lease or a handover) the upstream cannot say
        // which one has the bindings, so neither is deleted before the new one has them all: deleting the complete one
        // would leave the queue bound only through the half-built one, and what is published until the replay ends would
        // have nowhere to go. Declaring, binding and replaying into an existing exchange is idempotent; any binding it
        // still has that was dropped downstream goes at the next swap.
        await DeclareInternalExchangeAsync(cancellationToken).ConfigureAwait(false);
        await _upstream.BindAsync(new BindingSpec(InternalExchange, QueueName, BindingDestinationKind.Queue, ""), noWait: false, cancellationToken).ConfigureAwait(false);
        _context.Generations.Remember(_definition.Id, Generation);

        foreach (var group in _context.Bindings.AttachForReplay(_context.Feed))
        {
            await ApplyAsync(new BindingCommand(true, group), cancellationToken).ConfigureAwait(false);
        }

        await _upstream.DeleteExchangeAsync(UpstreamNaming.InternalExchangeName(QueueName, previous), cancellationToken).ConfigureAwait(false);
    }

    private async Task StartForwardingAsync(CancellationToken cancellationToken)
    {
        await SetUpDeduplicationAsync(cancellationToken).ConfigureAwait(false);
        if (!Deduplicating)
        {
            _publisher = await _downstream.Connection.OpenPublisherAsync(
                new PublisherOptions(Confirms: _settings.AckMode == AckMode.OnConfirm, MaxOutstandingConfirms: Math.Max(1, _settings.PrefetchCount)) { Dropped = Lost, Exchange = _definition.Exchange.Name },
                cancellationToken).ConfigureAwait(false);
        }

        var consumerOptions = new ConsumerOptions(_settings.AckMode == AckMode.NoAck ? 0 : _settings.PrefetchCount, AutoAck: _settings.AckMode == AckMode.NoAck)
        {
            Dropped = Lost,
        };
        _consumer = await _upstream.ConsumeAsync(QueueName, consumerOptions, OnDeliveryAsync, cancellationToken).ConfigureAwait(false);
        _consumerReady.TrySetResult(_consumer);
    }

    /// <summary>
    /// Waits until the consumer has taken on what its queue held when called (<see cref="IMessageConsumer.CatchUpAsync"/>):
    /// a switch of the kind of upstream queue has bound the new one by then, and this one goes once the session stops.
    /// </summary>
    public ValueTask CatchUpAsync(CancellationToken cancellationToken) =>
        _consumer is { } consumer && _accepting ? consumer.CatchUpAsync(cancellationToken) : ValueTask.CompletedTask;

    /// <summary>
    /// Mirrors binding changes upstream until the session fails or is cancelled. Every
    /// <see cref="InternalExchangeCheckInterval"/> it also checks the upstream (see <see cref="CheckUpstreamAsync"/>): a
    /// link whose upstream lost its bindings (partition, autoheal, someone deleting or re-creating an exchange) would
    /// otherwise look "running" while capturing nothing.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var ended = Task.WhenAny(_upstream.Completion, _consumer!.Completion, _downstream.Connection.Completion, _failed.Task);
        // Cancelled when this session ends, however it ends, so no check timer outlives it.
        using var sessionOver = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await MirrorBindingsAsync(ended, sessionOver.Token).ConfigureAwait(false);
        }
        finally
        {
            await sessionOver.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task MirrorBindingsAsync(Task<Task> ended, CancellationToken cancellationToken)
    {
        var reader = _context.Feed.Reader;
        var check = Task.Delay(InternalExchangeCheckInterval, _context.Time, cancellationToken);
        Task<bool>? next = null;
        while (true)
        {
            while (reader.TryRead(out var command))
            {
                await ApplyAsync(command, cancellationToken).ConfigureAwait(false);
            }

            // One outstanding wait at a time: the command channel has a single reader.
            next ??= reader.WaitToReadAsync(cancellationToken).AsTask();
            var first = await Task.WhenAny(next, ended, check).ConfigureAwait(false);
            if (first == ended)
            {
                var cause = await ended.ConfigureAwait(false);
                await cause.ConfigureAwait(false); // rethrows a fault
                throw new ConnectionLostException("The upstream consumer or a connection of the link closed.");
            }

            if (first == check)
            {
                await check.ConfigureAwait(false); // throws when cancelled
                await CheckUpstreamAsync(cancellationToken).ConfigureAwait(false);
                check = Task.Delay(InternalExchangeCheckInterval, _context.Time, cancellationToken);
                continue;
            }

            await next.ConfigureAwait(false); // throws when cancelled
            next = null;
        }
    }

    /// <summary>
    /// The periodic check. The internal exchange must exist, as the plugin checks: without it the queue is bound to
    /// nothing, and the link restarts with a new generation. The upstream exchange must exist and must not have been
    /// deleted since the last check: deleting it (a publisher that deletes and declares it again, say) takes every binding
    /// from it to the internal exchange along, so that it exists again but routes nothing to the link. A missing one
    /// restarts the link, which declares it again as at any start; a re-created one gets the link's bindings declared
    /// again where they are, without a restart.
    /// </summary>
    /// <remarks>
    /// Cost: AMQP cannot ask whether a binding exists, and declaring every binding again at every check would cost a
    /// round trip and a broker transaction per binding every 10 s, per link: a link with 5,000 bindings would keep the
    /// upstream busy with some 500 bindings a second for nothing, and a hundred such links with 50,000. The sentinel turns
    /// "was the exchange deleted?" into one passive declare, so a check costs two round trips however many bindings the
    /// link has, and only a deletion, which is rare, costs one bind per binding (idempotent: an existing binding with the
    /// same arguments is left as it is).
    /// </remarks>
    private async Task CheckUpstreamAsync(CancellationToken cancellationToken)
    {
        if (!await _upstream.ExchangeExistsAsync(InternalExchange, cancellationToken).ConfigureAwait(false))
        {
            throw new ResourceNotFoundException($"The internal exchange '{InternalExchange}' disappeared from the upstream; restarting the link.");
        }

        if (_sentinel && await _upstream.ExchangeExistsAsync(UpstreamNaming.SentinelExchangeName(QueueName), cancellationToken).ConfigureAwait(false))
        {
            return; // The upstream exchange was not deleted since the sentinel was bound to it.
        }

        var upstreamExchange = _definition.UpstreamExchange;
        if (!await _upstream.ExchangeExistsAsync(upstreamExchange, cancellationToken).ConfigureAwait(false))
        {
            throw new ResourceNotFoundException($"The upstream exchange '{upstreamExchange}' was deleted, and with it the link's bindings; restarting the link, which declares it again.");
        }

        if (!_sentinel)
        {
            return; // Refused at set-up (logged then): whether it was re-created cannot be told.
        }

        // Deleted and declared again (or somebody deleted the sentinel itself, which costs the same repair for nothing).
        // The sentinel first, so that a deletion while the bindings go up again is noticed at the next check.
        _sentinel = await SetUpSentinelAsync(cancellationToken).ConfigureAwait(false);
        var groups = _context.Bindings.Snapshot();
        foreach (var group in groups)
        {
            // Not counted as propagated: these bindings were mirrored before, and only go back where they were.
            await ApplyAsync(new BindingCommand(true, group), cancellationToken, counted: false).ConfigureAwait(false);
        }

        Log.UpstreamExchangeRecreated(_context.Logger, _definition.Id, upstreamExchange, groups.Count);
    }

    /// <summary>
    /// Puts the link's sentinel in place upstream: an internal, auto-delete fanout exchange whose only binding is to the
    /// upstream exchange (sentinel to upstream exchange; nobody can publish to it, so nothing ever flows through it). When
    /// the upstream exchange is deleted, the broker removes that binding with it, and an auto-delete exchange that lost
    /// its last binding is deleted too: so the sentinel exists exactly as long as the upstream exchange was not deleted
    /// since this call, and one passive declare tells. Declaring and binding it again is a no-op.
    /// </summary>
    /// <returns>
    /// Whether it is in place. An upstream may refuse it (binding to the upstream exchange needs the <c>write</c>
    /// permission on it, which the link otherwise does not); the link then runs without, and says so.
    /// </returns>
    private async Task<bool> SetUpSentinelAsync(CancellationToken cancellationToken)
    {
        var sentinel = UpstreamNaming.SentinelExchangeName(QueueName);
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal) { [HopHeaders.InternalPurposeArgument] = HopHeaders.InternalPurposeValue };
        try
        {
            await _upstream.DeclareExchangeAsync(
                new ExchangeSpec(sentinel, ExchangeSpec.Types.Fanout, Durable: true, AutoDelete: true, Internal: true, arguments),
                cancellationToken).ConfigureAwait(false);
            await _upstream.BindAsync(new BindingSpec(sentinel, _definition.UpstreamExchange, BindingDestinationKind.Exchange, ""), noWait: false, cancellationToken).ConfigureAwait(false);
            _context.Sentinel.InPlace();
            return true;
        }
        catch (TransportException ex) when (ex is not ConnectionLostException and not BrokerUnreachableException)
        {
            // A refusal only. An upstream that cannot be reached (an AMQP management API that takes the connection and never
            // answers) fails the link here: the internal exchange's declare would wait as long again and fail the same way.
            var cause = UriRedaction.RedactText(ex.Message);
            if (_context.Sentinel.ShouldWarn(cause))
            {
                Log.UpstreamSentinelRefused(_context.Logger, _definition.Id, _definition.UpstreamExchange, cause);
            }

            return false;
        }
    }

    /// <summary>
    /// Stops consuming, lets in-flight forwards settle (bounded), optionally deletes the upstream objects, and closes.
    /// Errors are swallowed: the session is over either way, and the upstream keeps what it could not delete.
    /// </summary>
    /// <param name="cleanup">Delete the upstream queue, internal exchange and sentinel.</param>
    /// <param name="drainTimeout">How long each step may wait for the upstream.</param>
    /// <param name="discarding">
    /// Why a cleanup discards messages the link was meant to forward (a new definition declares the queue otherwise): the
    /// number of messages the queue's deletion discarded is then logged at warning. Null for a plain clean stop.
    /// </param>
    /// <param name="stoppedFor">
    /// Why a plain clean stop deletes the queue (the link removed, its exchange deleted, the engine stopped): a deletion that
    /// discarded messages is logged at warning with their number, as for <paramref name="discarding"/>; one that discarded
    /// none (or whose count the transport cannot tell) is not.
    /// </param>
    /// <param name="dropLedger">
    /// Delete the link's downstream ledger even though its upstream queue stays: another link (another id, so another ledger)
    /// takes the queue over. With <paramref name="cleanup"/> the ledger goes with the queue anyway.
    /// </param>
    /// <param name="downstreamDeadline">
    /// Until when the steps that wait for the downstream may wait, in all: an engine stop's deadline; null for one drain
    /// timeout from now.
    /// </param>
    /// <returns>What became of the upstream objects, for event 1003 (see <see cref="CleanupOutcome"/>).</returns>
    public async Task<string> ShutDownAsync(bool cleanup, TimeSpan drainTimeout, string? discarding = null, string? stoppedFor = null, bool dropLedger = false, Task? downstreamDeadline = null)
    {
        _accepting = false;

        // A no-ack consumer is stopped first: nothing waits to acknowledge on it, and what it would deliver during the
        // drain could not go back upstream (the broker removes a message as it sends it), so it stays in the upstream
        // queue instead. So is any consumer once the lease is lost (IBrokerLease.Lost): another engine may take the link
        // at any moment now, and a consumer kept open through the drain (up to the drain timeout, which a downstream cut
        // off from this host runs to the end) would consume the upstream queue beside the new holder's, so that what this
        // one held came back behind what the other had forwarded meanwhile. The forwards still in flight then cannot be
        // acknowledged: they return upstream and are forwarded again (duplicate suppression drops those whose unit was
        // committed). Any other consumer is stopped after the drain, so that the forwards in flight can still be
        // acknowledged; what it delivers meanwhile returns to the upstream queue when it closes. Not one that cannot take
        // a message back (core NATS): its queue lives in the connection, and what it delivers meanwhile is counted below;
        // no other holder competes for those (each core NATS subscriber gets its own copy).
        var stopping = _consumer is { CanRequeue: true } consumer && (_settings.AckMode == AckMode.NoAck || _lease is { IsHeld: false })
            ? SafelyAsync(consumer).AsTask()
            : null;

        // Every step that waits for the downstream shares one drain timeout: a downstream that blocks publishing (a memory or
        // disk alarm) answers none of them until the alarm clears, and each waiting its own (the forwards in flight, the unit
        // loop, the ledger's close, the publisher's) added up to four times the bound, past a container's stop grace.
        // At an engine stop the deadline is the stop's (StopDeadline), which the lease release and the downstream's close share.
        downstreamDeadline ??= Task.Delay(drainTimeout, _context.Time);
        if (Volatile.Read(ref _inFlight) > 0)
        {
            await Task.WhenAny(_drained.Task, downstreamDeadline).ConfigureAwait(false);
        }

        await ShutDownDeduplicationAsync(downstreamDeadline).ConfigureAwait(false);

        // Every settlement has requested its ack by now; the last flush they started sends what is left. It and the
        // consumer's cancel below share one drain timeout, like the steps that wait for the downstream: a frozen upstream
        // answers neither, and each waiting its own added up (a black-box run's SIGTERM with one frozen node, upstream and
        // downstream, took 12-14 s for one link).
        var upstreamDeadline = Task.Delay(drainTimeout, _context.Time);
        await Task.WhenAny(Volatile.Read(ref _ackFlush), upstreamDeadline).ConfigureAwait(false);

        // An upstream that does not answer at all (a frozen broker, a black-holed network) would hold the consumer's cancel
        // and the connection's close until the client's own timeouts (about a minute together on AMQP), while the link
        // still showed running and a restart or a stop waited. Once it has let the drain timeout pass, it gets no more
        // waiting: the rest of its teardown goes on in the background, and the link moves on (the upstream redelivers
        // whatever was not acknowledged, as after a crash).
        var upstreamAnswers = await WithinAsync(stopping ?? SafelyAsync(_consumer).AsTask(), upstreamDeadline).ConfigureAwait(false);
        if (!upstreamAnswers)
        {
            Log.UpstreamTeardownAbandoned(_context.Logger, _definition.Id, drainTimeout);
        }

        var outcome = !cleanup ? CleanupOutcome.Kept : upstreamAnswers ? CleanupOutcome.Deleted : CleanupOutcome.UpstreamNotAnswering;
        if (cleanup && QueueName.Length > 0 && upstreamAnswers)
        {
            try
            {
                using var timeout = new CancellationTokenSource(drainTimeout, _context.Time);

                // The deletion's own count: one read before it missed what the upstream exchange still routed to the
                // queue in between.
                var discarded = await _upstream.DeleteUpstreamQueueAsync(QueueName, _definition.UpstreamExchange, timeout.Token).ConfigureAwait(false);
                if (discarding is not null || (stoppedFor is not null && discarded > 0))
                {
                    Log.BufferedMessagesDiscarded(_context.Logger, _definition.Id, QueueName, discarded?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of", discarding ?? stoppedFor!);
                }

                dropLedger = true;

                // Both generations, not only this session's: a stop that cuts the set-up short may come before the generation
                // is chosen (deleting "" was refused, 403, and the sentinel stayed behind) or in the middle of a swap.
                if (!_queueOnly)
                {
                    await UpstreamObjects.DeleteExchangesAsync(_upstream, QueueName, timeout.Token).ConfigureAwait(false);
                }

                // A stop that cut a handover short (or came while a failed one left it) leaves the handover queue bound
                // where the queue was; the link never comes back for it. Only a session that may hand its queue over has one.
                if (HandOverRefusedQueue is not null)
                {
                    await UpstreamObjects.DeleteHandoverQueueAsync(_upstream, QueueName, _definition.Id, _context.Logger, discarding ?? stoppedFor ?? "the link stopped for good", timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                Log.CleanupFailed(_context.Logger, ex, _definition.Id);
                outcome = CleanupOutcome.DeletionFailed;
            }
        }

        if (dropLedger && Deduplicating)
        {
            // Bounded by the downstream's deadline, whatever the client does with the token: a downstream that does not
            // answer (frozen, blocked) held an engine's stop for 54 s here. A ledger left behind costs only its records.
            await WithinAsync(DeleteLedgerAsync(drainTimeout), downstreamDeadline).ConfigureAwait(false);
        }

        // Bounded like the upstream: a downstream that blocks publishing (a memory or disk alarm) would hold a publisher
        // waiting for confirms, and with it the link's stop or restart, as long as the alarm lasts.
        await WithinAsync(SafelyAsync(_publisher).AsTask(), downstreamDeadline).ConfigureAwait(false);
        await WithinAsync(SafelyAsync(_upstream).AsTask(), upstreamAnswers ? drainTimeout : TimeSpan.Zero).ConfigureAwait(false);
        return outcome;
    }

    /// <summary>
    /// Deletes the link's ledger on the downstream, once its upstream queue is gone (or another link's): what it remembers
    /// are deliveries from that queue, which nobody redelivers any more, and nobody else opens a ledger under this link's id
    /// while it stops for good. Left on the downstream, it would stay there for good. A failure leaves it there.
    /// </summary>
    private async Task DeleteLedgerAsync(TimeSpan drainTimeout)
    {
        using var timeout = new CancellationTokenSource(drainTimeout, _context.Time);
        await LedgerDeletion.DeleteAsync(_downstream.Connection, _definition, _context.Logger, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for <paramref name="task"/> at most <paramref name="limit"/>; returns whether it finished. One that did not
    /// goes on in the background, its failure observed.
    /// </summary>
    private Task<bool> WithinAsync(Task task, TimeSpan limit) =>
        WithinAsync(task, task.IsCompleted || limit <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(limit, _context.Time));

    /// <summary>
    /// Waits for <paramref name="task"/> until <paramref name="deadline"/> completes; returns whether it finished. One that
    /// did not goes on in the background, its failure observed.
    /// </summary>
    private static async Task<bool> WithinAsync(Task task, Task deadline)
    {
        if (!task.IsCompleted && !deadline.IsCompleted)
        {
            await Task.WhenAny(task, deadline).ConfigureAwait(false);
        }

        if (task.IsCompleted)
        {
            await task.ConfigureAwait(false);
            return true;
        }

        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return false;
    }

    /// <summary>Mirrors one binding change upstream; <paramref name="counted"/> says whether it counts as propagated.</summary>
    private async ValueTask ApplyAsync(BindingCommand command, CancellationToken cancellationToken, bool counted = true)
    {
        var hops = HopRules.BindingHops(command.Group.Arguments, _settings.MaxHops, _upstream.ClusterName, _upstream.VirtualHost);
        if (hops == 0)
        {
            return; // This binding already came from that upstream, or has used up its hops.
        }

        var arguments = HopRules.WithBoundFrom(
            command.Group.Arguments,
            _downstreamAlias ?? _definition.ClusterName,
            _definition.VirtualHost,
            UpstreamNaming.BoundFromDescriptor(_definition.VirtualHost, _definition.Exchange.Name, Generation),
            hops);
        var binding = new BindingSpec(_definition.UpstreamExchange, InternalExchange, BindingDestinationKind.Exchange, command.Group.RoutingKey, arguments);
        if (command.Add)
        {
            await _upstream.BindAsync(binding, _settings.BindNowait, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await _upstream.UnbindAsync(binding, _settings.BindNowait, cancellationToken).ConfigureAwait(false);
        }

        if (counted)
        {
            _context.Counters.BindingPropagated();
        }
    }

    private ValueTask OnDeliveryAsync(Delivery delivery, CancellationToken cancellationToken) =>
        _draining ? ReceiveWhileDrainingAsync(delivery, cancellationToken) : Receive(delivery, cancellationToken);

    private ValueTask Receive(Delivery delivery, CancellationToken cancellationToken)
    {
        if (!_accepting)
        {
            // Not ours to forward any more: left unacknowledged, it returns to the upstream queue when we close. One that
            // cannot (no-ack: the broker removed it as it sent it; an upstream that cannot take it back) is lost: counted.
            // (A no-ack consumer is stopped first, so only those already on their way when it stopped come here.)
            if (_settings.AckMode == AckMode.NoAck || _consumer is { CanRequeue: false })
            {
                Lost(ShutdownReason, 1, "the link was shutting down when the upstream delivered it, and the upstream cannot send it again");
            }

            return ValueTask.CompletedTask;
        }

        if (_lease is { IsHeld: false } && _settings.AckMode != AckMode.NoAck && _consumer is { CanRequeue: true })
        {
            // Fencing: the lease has lapsed (a holder paused past its time-to-live finds out here, before its renewal timer
            // runs), so another engine may run this link and be forwarding this very message. Not forwarded, not acked: it
            // returns upstream to whoever holds the lease. (An upstream that cannot take a message back, core NATS, forwards
            // it still: late beats lost, although a core subscription that stayed registered through the pause also got
            // what the new holder got since it took over, so some of these arrive twice (README, Fencing); so does a
            // no-ack link, whose delivery the broker has already removed, and a delivery that comes before the consumer is
            // known.)
            _accepting = false;
            Fail(new ConnectionLostException("The link's lease lapsed before this delivery could be forwarded; the delivery goes back upstream."));
            return ValueTask.CompletedTask;
        }

        var consumer = _consumer;
        if (consumer is null)
        {
            // The broker can deliver before ConsumeAsync has returned the consumer we need for acks.
            return ForwardWhenConsumerReadyAsync(delivery, cancellationToken);
        }

        return Forward(consumer, delivery);
    }

    private async ValueTask ForwardWhenConsumerReadyAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        var consumer = await _consumerReady.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await Forward(consumer, delivery).ConfigureAwait(false);
    }

    private ValueTask Forward(IMessageConsumer consumer, Delivery delivery)
    {
        var verdict = HopRules.Check(delivery.Properties.Headers, _settings.MaxHops, _definition.ClusterName, _definition.VirtualHost, _downstreamAlias);
        if (verdict != ForwardVerdict.Forward)
        {
            return DropAsync(consumer, delivery, verdict);
        }

        var properties = delivery.Properties;
        if (!_settings.TrustUserId)
        {
            properties.UserId = null;
        }

        // The identity is taken before the hop trail and the trace context change; user-id is part of it only when it is
        // forwarded.
        var identity = Deduplicating ? DeliveryFingerprint.Of(delivery) : default;
        var headers = properties.Headers;
        if (headers is null && !Deduplicating)
        {
            // The publisher is done with the properties when PublishAsync returns (IMessagePublisher), nothing here reads
            // them afterwards, and deliveries come one at a time: a message without headers borrows the session's table
            // instead of allocating its own. (A deduplicated forward keeps its properties until its unit commits.)
            headers = _lentHeaders;
            headers.Clear();
        }

        properties.Headers = HopRules.PrependSharedReceivedFrom(headers, delivery.Redelivered ? _redeliveredTrailEntry : _trailEntry);

        // Only a listener pays for tracing: without one, the trace context the message carries goes on untouched.
        var spans = FederationTelemetry.ActivitySource.HasListeners()
            ? FederationTelemetry.StartForward(_spanNames, properties, delivery.RoutingKey)
            : default;
        if (Deduplicating)
        {
            spans.Detach();
            return ForwardOnce(consumer, delivery, identity, properties, spans);
        }

        Track(delivery.DeliveryTag);
        Interlocked.Increment(ref _inFlight);
        ValueTask published;
        try
        {
            published = _publisher!.PublishAsync(_definition.Exchange.Name, delivery.RoutingKey, properties, delivery.Body, CancellationToken.None);
        }
        catch (ArgumentException ex) when (ex is not ArgumentNullException)
        {
            // The downstream transport has no form for this message's routing key (IMessagePublisher refuses it with
            // ArgumentException, such as a NATS wildcard word): a fault of this one message, settled as a refusal. The
            // text quotes the key, which whoever published upstream chose: escaped, so that it cannot forge log lines.
            published = ValueTask.FromException(new MessageRefusedException($"The downstream cannot take the message: {PrintableText.Escape(ex.Message)}", ex));
        }
        catch (MessageRefusedException ex)
        {
            // Refused before it was sent: settled as a refusal after sending is.
            published = ValueTask.FromException(ex);
        }
        catch (Exception ex)
        {
            // Thrown instead of returned (a JetStream publisher whose PubAck inbox closed with its connection): the same
            // failure as when it comes asynchronously, settled the same way, so a message that cannot come back is counted.
            published = ValueTask.FromException(ex);
        }

        if (published.IsCompletedSuccessfully)
        {
            published.GetAwaiter().GetResult();
            spans.End(null);
            spans.Detach();
            _context.Counters.Forwarded(1);
            Acknowledge(consumer, delivery.DeliveryTag);
            Settled();
            return ValueTask.CompletedTask;
        }

        spans.Detach();

        // Pipelining: do not hold the consumer while the downstream confirms; prefetch bounds what is in flight.
        if ((_settings.AckMode == AckMode.NoAck || !consumer.EnforcesPrefetch) && Volatile.Read(ref _inFlight) > _inFlightWindow)
        {
            // No-ack has no prefetch to bound the publishes still being written, nor has an upstream consumer that does
            // not enforce it (core NATS): a downstream slower than the upstream would pile them up without limit. Past the
            // window, hold the consumer until this one is settled: never more than one past the window is in flight, and
            // the upstream pushes back instead.
            return new ValueTask(SettleAsync(consumer, published, delivery.DeliveryTag, spans));
        }

        SettleWhenPublished(consumer, published, delivery.DeliveryTag, spans);
        return ValueTask.CompletedTask;
    }

    /// <summary>Counts messages the transport reports lost; a cause is logged at warning when it opens a loss episode, at debug otherwise.</summary>
    private void Lost(string reason, long count, string? cause)
    {
        if (!_context.Counters.Lost(reason, count, cause) && cause is not null && _context.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            Log.MessageLostAgain(_context.Logger, _definition.Id, count, reason, UriRedaction.RedactText(cause));
        }
    }

    /// <summary>
    /// Settles a delivery that the downstream can never take (too large for it, no form for it there): redelivering it
    /// would only fail again, and restarting the link over it would stop every message behind it for good (a durable
    /// upstream redelivers it first). It is rejected upstream without requeueing, so a dead-letter exchange that a policy
    /// sets on the upstream queue keeps it (on JetStream it is terminated), counted as lost (<c>too_large</c> when the
    /// transport could not even write it, <c>downstream_rejected</c> otherwise), and the link goes on, in every ack mode.
    /// A refusal of any kind when the upstream cannot take a message back (core NATS) is settled the same way.
    /// </summary>
    private async Task RefuseAsync(IMessageConsumer consumer, ulong deliveryTag, Exception refused)
    {
        // The first loss of an episode is logged at warning with the refusal (see LinkDrops); the rest only at debug.
        var reason = refused is MessageTooLargeException ? TooLargeReason : DownstreamRejectedReason;
        if (!_context.Counters.Lost(reason, 1, refused.Message) && _context.Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            Log.MessageRefusedAgain(_context.Logger, _definition.Id, reason, UriRedaction.RedactText(refused.Message));
        }

        if (_settings.AckMode == AckMode.NoAck)
        {
            return;
        }

        if (!consumer.CanRequeue)
        {
            // At-most-once upstream (core NATS): nothing to give back; settle it like a forward.
            Acknowledge(consumer, deliveryTag);
            return;
        }

        try
        {
            // Once the reject is sent the delivery is no longer outstanding, so later forwards may be acked past it.
            await consumer.NackAsync(deliveryTag, false, requeue: false, CancellationToken.None).ConfigureAwait(false);
            Acknowledge(consumer, deliveryTag, nacked: true);
        }
        catch (Exception nackFailure)
        {
            Fail(nackFailure);
        }
    }

    private const string TooLargeReason = "too_large";
    private const string DownstreamRejectedReason = "downstream_rejected";
    private const string UnconfirmedReason = "unconfirmed";
    private const string ShutdownReason = "shutdown";

    private ValueTask DropAsync(IMessageConsumer consumer, Delivery delivery, ForwardVerdict verdict)
    {
        var reason = verdict == ForwardVerdict.Cycle ? "cycle" : "max_hops";
        _context.Counters.Dropped(reason);
        // The length the check used: every element of the trail counts, also one that is not a well-formed entry.
        var hops = delivery.Properties.Headers?.GetValueOrDefault(HopHeaders.ReceivedFrom) is { } trail && HeaderValueReader.TryGetArrayCount(trail, out var length) ? length : 0;
        Log.MessageDropped(_context.Logger, _definition.Id, reason, hops, _settings.MaxHops);

        // Dropped messages are acknowledged upstream, as the plugin does: they must not come back. The ack goes
        // through the tracker, like a confirmed forward, so that it never covers an earlier unconfirmed delivery.
        Track(delivery.DeliveryTag);
        Acknowledge(consumer, delivery.DeliveryTag);
        return ValueTask.CompletedTask;
    }

    /// <summary>Settles one forward once its publish completed, for a caller that waits for it (see <see cref="SettleWhenPublished"/>).</summary>
    private async Task SettleAsync(IMessageConsumer consumer, ValueTask published, ulong deliveryTag, ForwardSpans spans)
    {
        try
        {
            await published.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await PublishFailedAsync(consumer, deliveryTag, spans, ex).ConfigureAwait(false);
            return;
        }

        Published(consumer, deliveryTag, spans);
    }

    /// <summary>A forward's publish succeeded (confirmed, or written without confirms): acknowledge it upstream.</summary>
    private void Published(IMessageConsumer consumer, ulong deliveryTag, ForwardSpans spans)
    {
        Exception? failure = null;
        try
        {
            _context.Counters.Forwarded(1);
            Acknowledge(consumer, deliveryTag);
        }
        catch (Exception ex)
        {
            failure = ex;
            Fail(ex);
        }
        finally
        {
            spans.End(failure);
            Settled();
        }
    }

    /// <summary>A forward's publish failed or was nacked: settle it upstream as its ack mode says, or fail the session.</summary>
    private async Task PublishFailedAsync(IMessageConsumer consumer, ulong deliveryTag, ForwardSpans spans, Exception failure)
    {
        try
        {
            if (failure is MessageRefusedException
                || (failure is PublishNackedException && _settings.AckMode != AckMode.NoAck && !consumer.CanRequeue))
            {
                // Refused for good, or refused by a downstream of an upstream that cannot take it back (at-most-once):
                // restarting the link would lose everything else it holds too. Count the loss and go on.
                await RefuseAsync(consumer, deliveryTag, failure).ConfigureAwait(false);
            }
            else if (failure is PublishNackedException nacked && _settings.AckMode != AckMode.NoAck)
            {
                // The downstream refused it: give it back to the upstream queue and restart the link after the delay,
                // so a persistently failing downstream is retried at reconnect-delay pace instead of in a hot loop.
                // Once the nack is sent the delivery is no longer outstanding, so later confirmed ones may be acked
                // past it; before that, an ack with multiple would have taken it off the upstream queue.
                _context.Counters.Nacked(nacked);
                try
                {
                    await consumer.NackAsync(deliveryTag, false, requeue: true, CancellationToken.None).ConfigureAwait(false);
                    Acknowledge(consumer, deliveryTag, nacked: true);
                }
                catch (Exception nackFailure)
                {
                    Fail(nackFailure);
                }

                Fail(nacked);
            }
            else
            {
                // Not acknowledged: the upstream redelivers it when the link reconnects (at-least-once). It stays
                // unsettled in the tracker, so no later ack with multiple covers it. An upstream that cannot send it
                // again (core NATS; any upstream in no-ack mode) has nothing to redeliver: whether it arrived is
                // unknown, and it is counted so that the loss is not silent.
                if (!consumer.CanRequeue || _settings.AckMode == AckMode.NoAck)
                {
                    Lost(UnconfirmedReason, 1, $"the downstream failed before it confirmed a message ({failure.Message}), and the upstream cannot send it again: it may or may not have arrived");
                }

                Fail(failure);
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
        finally
        {
            spans.End(failure);
            Settled();
        }
    }

    /// <summary>Tracks a delivery that will be acknowledged upstream once its outcome is final (not in no-ack mode).</summary>
    private void Track(ulong deliveryTag)
    {
        if (_settings.AckMode != AckMode.NoAck)
        {
            _acks.Track(deliveryTag);
        }
    }

    /// <summary>Marks a delivery's outcome as final and, when the settled prefix grew, makes sure an ack flush runs.</summary>
    /// <param name="consumer">The upstream consumer.</param>
    /// <param name="deliveryTag">The delivery.</param>
    /// <param name="nacked">It was nacked or rejected upstream already: a later ack may cover it but never names it.</param>
    private void Acknowledge(IMessageConsumer consumer, ulong deliveryTag, bool nacked = false)
    {
        if (_settings.AckMode == AckMode.NoAck || !_acks.Settle(deliveryTag, acknowledge: !nacked))
        {
            return;
        }

        if (Interlocked.Exchange(ref _ackFlushRunning, 1) == 0)
        {
            Volatile.Write(ref _ackFlush, FlushAcksAsync(consumer));
        }
    }

    /// <summary>
    /// Sends upstream acks with <c>multiple=true</c> up to the highest delivery below which all have settled, until
    /// nothing is left to ack. One flush runs at a time; settlements that arrive meanwhile are covered by its next
    /// ack, so under load one ack covers many deliveries instead of one ack per message (as the plugin does).
    /// </summary>
    private async Task FlushAcksAsync(IMessageConsumer consumer)
    {
        try
        {
            while (true)
            {
                if (_acks.Unsettled > 0)
                {
                    // More confirms are on their way: let them settle first, so that this ack covers them too.
                    await Task.Yield();
                }

                while (_acks.TryTakeAck(out var upToTag, out var deliveries))
                {
                    // A single delivery needs no multiple: every tracked delivery below it was acknowledged before.
                    await consumer.AckAsync(upToTag, multiple: deliveries > 1, CancellationToken.None).ConfigureAwait(false);
                }

                Volatile.Write(ref _ackFlushRunning, 0);
                if (!_acks.HasAck || Interlocked.Exchange(ref _ackFlushRunning, 1) != 0)
                {
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // Whatever was not acked returns to the upstream queue when the session closes (at-least-once).
            Fail(ex);
        }
    }

    private void Settled()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            if (!_accepting)
            {
                _drained.TrySetResult();
            }

            // A drain that stops its consumer waits for this (see StopConsumingRetiredQueueAsync); null on any other session.
            Volatile.Read(ref _drainSettled)?.TrySetResult();
        }
    }

    private void Fail(Exception ex) => _failed.TrySetException(ex);

    /// <summary>
    /// The generation the upstream queue is bound through now, read from the upstream. This process's memory decides only
    /// when the upstream cannot (neither or both internal exchanges exist): with several instances sharing links, another
    /// instance may have run the link since this one did, and building "the other" generation from stale memory would
    /// delete the exchange the queue is bound through, leaving a gap in which upstream messages have nowhere to go.
    /// </summary>
    /// <returns>The previous generation, and whether both internal exchanges exist (a swap was cut short).</returns>
    private async Task<(char Previous, bool Both)> PreviousGenerationAsync(CancellationToken cancellationToken)
    {
        // Probes: one of the two is missing at almost every start.
        var a = await _upstream.ProbeExchangeAsync(UpstreamNaming.InternalExchangeName(QueueName, 'A'), cancellationToken).ConfigureAwait(false);
        var b = await _upstream.ProbeExchangeAsync(UpstreamNaming.InternalExchangeName(QueueName, 'B'), cancellationToken).ConfigureAwait(false);
        if (a != b)
        {
            return (a ? 'A' : 'B', false);
        }

        if (_context.Generations.TryRecall(_definition.Id, out var remembered))
        {
            return (remembered, a);
        }

        // Both (a swap cut short): complete A, then drop B. Neither: the plugin's stored default is A, so a first-ever
        // start uses B.
        return (b ? 'B' : 'A', a);
    }

    /// <summary>
    /// Declares the internal exchange as the plugin's own fallback: an internal fanout. The hop and cycle checks then run
    /// on the link for every message, so each drop is counted (federation.link.messages.dropped) and logged, instead of
    /// vanishing inside the upstream broker's routing; it also works on upstreams without the federation plugin.
    /// </summary>
    private async Task DeclareInternalExchangeAsync(CancellationToken cancellationToken)
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal) { [HopHeaders.InternalPurposeArgument] = HopHeaders.InternalPurposeValue };
        await _upstream.DeclareExchangeAsync(
            new ExchangeSpec(InternalExchange, ExchangeSpec.Types.Fanout, Durable: true, AutoDelete: true, Internal: true, arguments),
            cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask SafelyAsync(IAsyncDisposable? disposable)
    {
        if (disposable is null)
        {
            return;
        }

        try
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TransportException or ObjectDisposedException or OperationCanceledException)
        {
            // Closing something that is already broken.
        }
    }
}
