using Federation.Core.Diagnostics;
using Federation.Core.Hops;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The handover of the link's upstream queue to a queue declared anew with the link's arguments, when the upstream refuses
/// to declare it with them because it exists with others (a reload changed <c>message-ttl</c>, <c>expires</c> or
/// <c>queue-type</c>: AMQP <c>406 PRECONDITION_FAILED</c>, inequivalent arg). The queue's name is the plugin's, so the new
/// one must have it too, and the old one has to go first. Before 7 Dec 2026 the reload deleted it, discarding what it held
/// (events 2020 and 1028), and what the upstream routed until the new run had bound the new queue reached no queue at all
/// (a black-box run at 500 msg/s lost 90 and 114 messages per change, 10 of them counted). Now, by the run that is refused:
/// <list type="number">
/// <item>A handover queue (<see cref="UpstreamNaming.HandoverQueueName"/>) is declared and bound to the link's internal
/// exchanges, the only thing the link's queue is bound to, before the queue is unbound from them: from then on it receives
/// what the upstream routes to the link (the internal exchanges are auto-delete, so they stay, bound to it).</item>
/// <item>The old queue is forwarded until it is empty, as the link forwards (ack mode, hop rules, confirms; see
/// <see cref="LinkSession.DrainAsync"/>), and deleted.</item>
/// <item>The run declares the queue anew with its arguments and swaps its internal exchange generation as every run does,
/// which unbinds the handover queue (its generation is deleted once the new one has every binding). What is routed while
/// both are bound reaches both: a duplicate, never a loss.</item>
/// <item>The run unbinds the handover queue from whatever is left, forwards what it holds and deletes it.</item>
/// </list>
/// Every step is one the next run repeats or resumes, so a crash or a stop in the middle leaves no message where nobody
/// reads it: the old queue, unbound and still refused, is handed over again; a handover queue that exists when a run starts
/// is forwarded (step 4), whatever left it. One the link never comes back for (removed, its exchange deleted or the last
/// instance stopped meanwhile) is deleted with its other upstream objects, counting what that discards (event 1028; see
/// <see cref="UpstreamObjects.DeleteHandoverQueueAsync"/>); before 7 Dec 2026 it expired after <see cref="HandoverQueueExpiry"/>,
/// discarding what it held, counted nowhere. A run that fails while a handover queue exists (the upstream refused the
/// declaration anew for another reason) warns once per failure episode (event 2044): the queue receives, nobody reads it
/// until a run succeeds, and every failed attempt declares it again, so that the broker's expiry
/// (<see cref="HandoverQueueExpiry"/> unused) never takes it under a link that retries. Not with <c>resource-cleanup-mode: never</c>, which deletes nothing: the
/// refusal stands and the link fails (warning 2042). Only on a transport whose broker checks queue arguments
/// (<see cref="TransportCapabilities.ServerSideTopology"/>): NATS ignores them and keeps its queue.
/// </summary>
internal sealed partial class ExchangeLink
{
    /// <summary>
    /// The <c>x-expires</c> of a handover queue: how long it stays unused (no consumer, not declared again) before the broker
    /// deletes it. Only a queue nobody comes back for goes: the run that declares it forwards it right after, and the next
    /// run of the link forwards one a crash left. Long, so that a long forwarding of the old queue, during which the
    /// handover queue only receives, or an outage of the link, never deletes what it holds.
    /// </summary>
    internal static readonly TimeSpan HandoverQueueExpiry = TimeSpan.FromDays(1);

    /// <summary>Why the old queue and the handover queue go, for the warning that would count what their deletion discards.</summary>
    private const string HandoverWhy = "the upstream refused to declare it with the link's arguments, so it was forwarded and is declared anew with them";

    /// <summary>
    /// What <see cref="LinkSession.HandOverRefusedQueue"/> calls for a run on <paramref name="upstream"/>, or null where a
    /// refusal stands (see <see cref="ExchangeLink"/>'s handover).
    /// </summary>
    private Func<string, CancellationToken, Task<bool>>? HandoverFor(ITransport transport, IBrokerConnection upstream, string uri, DownstreamSession downstream) =>
        Definition.Upstream.ResourceCleanupMode == ResourceCleanupMode.Never || !transport.Capabilities.HasFlag(TransportCapabilities.ServerSideTopology)
            ? null
            : (queue, cancellationToken) => MoveQueueAsideAsync(upstream, queue, uri, downstream, cancellationToken);

    /// <summary>
    /// Steps 1 and 2 of the handover: binds the handover queue where <paramref name="queue"/> is bound, unbinds the queue,
    /// forwards what it holds and deletes it. Returns false, doing nothing, when the queue does not exist (the refusal was
    /// about something else).
    /// </summary>
    private async Task<bool> MoveQueueAsideAsync(IBrokerConnection upstream, string queue, string uri, DownstreamSession downstream, CancellationToken cancellationToken)
    {
        if (await upstream.CountQueueMessagesAsync(queue, cancellationToken).ConfigureAwait(false) is not { } held)
        {
            return false;
        }

        var definition = Definition;
        var handover = UpstreamNaming.HandoverQueueName(queue);
        Log.UpstreamQueueHandoverStarted(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, queue, held, handover);
        await upstream.DeclareQueueAsync(HandoverQueue(handover), cancellationToken).ConfigureAwait(false);
        foreach (var generation in UpstreamNaming.InternalExchangeGenerations)
        {
            var exchange = UpstreamNaming.InternalExchangeName(queue, generation);
            if (!await upstream.ProbeExchangeAsync(exchange, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            // The handover queue first: an internal exchange is auto-delete, and would go with its last binding.
            await upstream.BindAsync(new BindingSpec(exchange, handover, BindingDestinationKind.Queue, ""), noWait: false, cancellationToken).ConfigureAwait(false);
            await upstream.UnbindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, ""), noWait: false, cancellationToken).ConfigureAwait(false);
        }

        // A forwarding that could not delete the queue leaves it: the declaration that follows is refused again, and the
        // next run hands it over again.
        await ForwardAndDeleteAsync(queue, uri, downstream, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Step 4 of the handover, at every run once its queue is declared and bound: when the handover queue of
    /// <paramref name="queue"/> exists (this run moved the queue aside, or a run before was cut short), it is unbound,
    /// forwarded until empty and deleted. What it holds is what the upstream routed to the link while its queue was away.
    /// </summary>
    private async Task ForwardHandoverQueueAsync(ITransport transport, IBrokerConnection upstream, string queue, string uri, DownstreamSession downstream, CancellationToken cancellationToken)
    {
        if (!transport.Capabilities.HasFlag(TransportCapabilities.ServerSideTopology))
        {
            return;
        }

        // A probe: at almost every start there is none.
        var handover = UpstreamNaming.HandoverQueueName(queue);
        if (!await upstream.ProbeQueueAsync(handover, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // The set-up's swap deleted the generation it was bound to, unless both were there (a swap cut short).
        foreach (var generation in UpstreamNaming.InternalExchangeGenerations)
        {
            var exchange = UpstreamNaming.InternalExchangeName(queue, generation);
            await upstream.UnbindAsync(new BindingSpec(exchange, handover, BindingDestinationKind.Queue, ""), noWait: false, cancellationToken).ConfigureAwait(false);
        }

        var held = await upstream.CountQueueMessagesAsync(handover, cancellationToken).ConfigureAwait(false) ?? 0;
        var outcome = await ForwardAndDeleteAsync(handover, uri, downstream, cancellationToken).ConfigureAwait(false);
        var definition = Definition;
        Log.UpstreamQueueHandoverFinished(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, handover, held, queue, outcome ?? CleanupOutcome.Kept);
    }

    // Whether warning 2044 was given in this failure episode (sessions that fail to set up one after another); the next
    // set-up that succeeds ends it, and forwards the handover queue.
    private bool _handoverStrandedTold;

    /// <summary>
    /// When a run fails to set up while the handover queue of <paramref name="queue"/> exists (the upstream refused to
    /// declare the queue anew for another reason than its old arguments, or a crash left the handover queue and the link
    /// cannot run), warns once per failure episode (event 2044): the handover queue receives what the upstream routes to the
    /// link, nobody reads it until a run declares the queue and forwards it, and unused for <see cref="HandoverQueueExpiry"/>
    /// the broker deletes it with what it holds. Never throws: the run's own failure is what the caller rethrows.
    /// </summary>
    private async Task WarnIfHandoverQueueStrandedAsync(ITransport transport, IBrokerConnection upstream, string queue, Exception failure, CancellationToken cancellationToken)
    {
        if (queue.Length == 0 || !transport.Capabilities.HasFlag(TransportCapabilities.ServerSideTopology))
        {
            return;
        }

        var handover = UpstreamNaming.HandoverQueueName(queue);
        long? held;
        try
        {
            held = await upstream.CountQueueMessagesAsync(handover, cancellationToken).ConfigureAwait(false);
            if (held is not null)
            {
                // Declared again at every failed attempt: a redeclaration restarts the broker's x-expires clock, so the
                // handover queue, which holds what was routed to the link meanwhile, never expires under a link that keeps
                // retrying; only one nobody comes back for (the link gone while no host ran) goes after HandoverQueueExpiry.
                await upstream.DeclareQueueAsync(HandoverQueue(handover), cancellationToken).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // Only a warning's look-up and a renewal: an upstream that cannot answer says nothing more than the run's failure does.
        catch (Exception)
#pragma warning restore CA1031
        {
            return;
        }

        if (held is not { } count || _handoverStrandedTold)
        {
            return;
        }

        _handoverStrandedTold = true;
        var definition = Definition;
        Log.HandoverQueueStranded(_logger, definition.Id, definition.Exchange.Name, definition.Upstream.UpstreamName, FailureEpisode.Describe(failure), UpstreamNaming.HandoverQueueName(queue), queue, count, HandoverQueueExpiry);
    }

    /// <summary>
    /// Forwards what <paramref name="queue"/> holds to the link's downstream exchange and deletes it, leaving the exchanges
    /// named after it (the link's own) alone, through a session and upstream connection of its own.
    /// </summary>
    private async Task<string?> ForwardAndDeleteAsync(string queue, string uri, DownstreamSession downstream, CancellationToken cancellationToken)
    {
        var connectionName = UpstreamNaming.ConnectionName(Definition.Upstream.UpstreamName, Definition.PolicyName);
        var upstream = await ConnectDeadline.ConnectAsync(_transports.Resolve(uri), new ConnectionRequest(uri, connectionName), _time, cancellationToken).ConfigureAwait(false);
        var session = new LinkSession(Volatile.Read(ref _sessionContext), downstream, upstream, lease: null);
        return await session.DrainAsync(queue, HandoverWhy, cancellationToken, queueOnly: true).ConfigureAwait(false);
    }

    /// <summary>The declaration of a handover queue: durable, as the link's queue is, classic, and expiring when unused for <see cref="HandoverQueueExpiry"/>.</summary>
    private static QueueSpec HandoverQueue(string name) => new(
        name,
        Durable: true,
        Arguments: new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            [HopHeaders.InternalPurposeArgument] = HopHeaders.InternalPurposeValue,
            ["x-queue-type"] = "classic",
            ["x-expires"] = (long)HandoverQueueExpiry.TotalMilliseconds,
        });
}
