using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>The link forwarding an upstream queue a reload left behind (see <see cref="RetiredUpstreamQueues"/>).</summary>
internal sealed partial class ExchangeLink
{
    /// <summary>
    /// Forwards what the upstream queue of <paramref name="retired"/> (a link of the same downstream exchange, upstream
    /// exchange and upstream broker that a reload renaming the downstream replaced by this one) holds, through a session of
    /// its own beside the link's run, then deletes that queue (<see cref="LinkSession.DrainAsync"/>). Cut short when the
    /// link stops.
    /// </summary>
    /// <returns>What became of the queue, or null when the upstream cannot count a queue's messages (nothing forwarded, the queue stays).</returns>
    /// <exception cref="InvalidOperationException">The downstream is not connected.</exception>
    public async Task<string?> DrainRetiredQueueAsync(LinkDefinition retired, string why, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        if (_downstream.Current is not { IsCompletedSuccessfully: true } current)
        {
            throw new InvalidOperationException("The downstream is not connected.");
        }

        var upstream = await UpstreamObjects.ConnectAsync(retired, _transports, _time, cancel.Token).ConfigureAwait(false);
        var session = new LinkSession(Volatile.Read(ref _sessionContext), current.Result, upstream, lease: null);
        return await session.DrainAsync(UpstreamObjects.QueueName(retired, upstream), why, cancel.Token).ConfigureAwait(false);
    }
}
