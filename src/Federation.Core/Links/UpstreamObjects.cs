using Federation.Core.Diagnostics;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// Deletes a link's objects on its upstream: its queue (counting what the deletion discards), both internal exchanges,
/// its sentinel and the handover queue a handover cut short left (<c>ExchangeLink.Handover</c>). Without a session for a link stopped for good between two runs (<see cref="ExchangeLink"/>) and for
/// the second look at the queue of a removed or moved link (<see cref="RemovedLinkSweep"/>); the exchanges also for a
/// session's own cleanup (<see cref="LinkSession"/>).
/// </summary>
internal static class UpstreamObjects
{
    /// <summary>Connects to the first URI of the upstream that answers and deletes the link's objects there.</summary>
    /// <param name="definition">The link whose objects go.</param>
    /// <param name="transports">Resolves the upstream URIs.</param>
    /// <param name="time">The clock the connect's backstop is measured on.</param>
    /// <param name="logger">Where the deletion of a handover queue that held messages is warned of (event 1028).</param>
    /// <param name="why">Why the objects go, for that warning.</param>
    /// <param name="cancellationToken">Abandons the deletion.</param>
    /// <returns>The queue's name and what its deletion discarded (null when the transport cannot tell).</returns>
    /// <exception cref="BrokerUnreachableException">No URI of the upstream answered: the objects stay.</exception>
    public static async Task<(string Queue, long? Discarded)> DeleteAsync(LinkDefinition definition, TransportResolver transports, TimeProvider time, ILogger logger, string why, CancellationToken cancellationToken)
    {
        var upstream = await ConnectAsync(definition, transports, time, cancellationToken).ConfigureAwait(false);
        await using (upstream.ConfigureAwait(false))
        {
            var queue = QueueName(definition, upstream);

            // The deletion's own count, not one read before it: the upstream exchange routes to the queue until it is gone.
            // With the exchange the queue reads, so that a transport that places queues by it deletes this definition's
            // queue only, not one of the same name that the link's current run reads elsewhere (NATS: another stream=).
            var discarded = await upstream.DeleteUpstreamQueueAsync(queue, definition.UpstreamExchange, cancellationToken).ConfigureAwait(false);
            await DeleteExchangesAsync(upstream, queue, cancellationToken).ConfigureAwait(false);
            if (HasHandoverQueues(definition, transports))
            {
                await DeleteHandoverQueueAsync(upstream, queue, definition.Id, logger, why, cancellationToken).ConfigureAwait(false);
            }

            return (queue, discarded);
        }
    }

    /// <summary>
    /// Whether the link's upstream can have a handover queue: only a transport whose broker checks queue arguments hands a
    /// queue over (<see cref="TransportCapabilities.ServerSideTopology"/>); on another (NATS) the name is not even a valid one.
    /// </summary>
    public static bool HasHandoverQueues(LinkDefinition definition, TransportResolver transports) =>
        definition.Upstream.Uris.All(uri => transports.TryResolve(uri, out var transport) && transport.Capabilities.HasFlag(TransportCapabilities.ServerSideTopology));

    /// <summary>
    /// Deletes the handover queue of <paramref name="queue"/> when it exists: a handover cut short (the link removed, its
    /// exchange deleted or the engine stopped meanwhile) leaves it bound to the link's internal exchanges, and the link never
    /// comes back to forward it. Left there, it would expire a day later and discard what it holds, counted nowhere; here
    /// that is warned of (event 1028). Call it once the internal exchanges are gone, so that nothing more reaches it.
    /// </summary>
    public static async Task DeleteHandoverQueueAsync(IBrokerConnection upstream, string queue, string linkId, ILogger logger, string why, CancellationToken cancellationToken)
    {
        // Not a probe (ProbeQueueAsync): this runs at a stop for good, which must stay prompt with the upstream's management
        // API hung, and a stop for good is rare enough for the channel error a missing queue costs on RabbitMQ.
        var handover = UpstreamNaming.HandoverQueueName(queue);
        if (await upstream.CountQueueMessagesAsync(handover, cancellationToken).ConfigureAwait(false) is null)
        {
            return;
        }

        var discarded = await upstream.DeleteQueueCountingDiscardedAsync(handover, cancellationToken).ConfigureAwait(false);
        if (discarded != 0)
        {
            Log.BufferedMessagesDiscarded(logger, linkId, handover, discarded?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of", why);
        }
    }

    /// <summary>Connects to the first URI of the upstream of <paramref name="definition"/> that answers.</summary>
    /// <param name="definition">The link whose upstream is connected to.</param>
    /// <param name="transports">Resolves the upstream URIs.</param>
    /// <param name="time">The clock the connect's backstop is measured on.</param>
    /// <param name="cancellationToken">Abandons the attempt.</param>
    /// <param name="connectionName">The name the broker lists the connection under; the link's (as the plugin names it) when null.</param>
    /// <exception cref="BrokerUnreachableException">No URI of the upstream answered (the last one's failure is the inner exception).</exception>
    public static async Task<IBrokerConnection> ConnectAsync(LinkDefinition definition, TransportResolver transports, TimeProvider time, CancellationToken cancellationToken, string? connectionName = null)
    {
        connectionName ??= UpstreamNaming.ConnectionName(definition.Upstream.UpstreamName, definition.PolicyName);
        // Every URI of an upstream reaches the same broker (cluster): the first that answers will do.
        Exception? failure = null;
        foreach (var uri in definition.Upstream.Uris)
        {
            try
            {
                var request = new ConnectionRequest(uri, connectionName);
                return await ConnectDeadline.ConnectAsync(transports.Resolve(uri), request, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TransportException ex)
            {
                failure = ex;
            }
        }

        throw new BrokerUnreachableException($"No URI of upstream '{definition.Upstream.UpstreamName}' answered, so the queue of link {definition.Id} stays there.", failure);
    }

    /// <summary>The name of the upstream queue of a link of <paramref name="definition"/> on <paramref name="upstream"/>.</summary>
    public static string QueueName(LinkDefinition definition, IBrokerConnection upstream) =>
        UpstreamNaming.QueueName(definition.UpstreamExchange, definition.ClusterName, definition.VirtualHost, definition.Exchange.Name, upstream.VirtualHost);

    /// <summary>
    /// Deletes both internal exchange generations of <paramref name="queue"/> and its sentinel. Both generations: which one
    /// is current may not be known (no session, or a set-up cut short before it chose one, or a swap in the middle), and
    /// deleting a missing exchange is a no-op.
    /// </summary>
    public static async Task DeleteExchangesAsync(IBrokerConnection upstream, string queue, CancellationToken cancellationToken)
    {
        foreach (var generation in UpstreamNaming.InternalExchangeGenerations)
        {
            await upstream.DeleteExchangeAsync(UpstreamNaming.InternalExchangeName(queue, generation), cancellationToken).ConfigureAwait(false);
        }

        await upstream.DeleteExchangeAsync(UpstreamNaming.SentinelExchangeName(queue), cancellationToken).ConfigureAwait(false);
    }
}
