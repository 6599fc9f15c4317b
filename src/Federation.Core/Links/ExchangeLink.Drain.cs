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
    /// <returns>What became of the queue, or null when the upstream cannot count a queue's messages and this link's queue did not take it over as it was created (nothing forwarded, the queue stays).</returns>
    /// <exception cref="InvalidOperationException">The downstream is not connected.</exception>
    /// <param name="retired">The retired link's definition.</param>
    /// <param name="why">Why the queue goes, for the warning that counts what its deletion discards.</param>
    /// <param name="cancellationToken">Cuts the forwarding short.</param>
    /// <param name="downstream">The downstream session to publish on (the one a <see cref="RetiredLinkLease"/> was taken on); null for the current one.</param>
    public async Task<string?> DrainRetiredQueueAsync(LinkDefinition retired, string why, CancellationToken cancellationToken, DownstreamSession? downstream = null)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        downstream ??= CurrentDownstream();
        var upstream = await UpstreamObjects.ConnectAsync(retired, _transports, _time, cancel.Token).ConfigureAwait(false);
        var session = new LinkSession(Volatile.Read(ref _sessionContext), downstream, upstream, lease: null);
        return await session.DrainAsync(UpstreamObjects.QueueName(retired, upstream), why, cancel.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks once, on the current downstream session, for the lease of <paramref name="retired"/>, a link that the
    /// downstream's new cluster name retired (event 2027), for this instance (see <see cref="RetiredLinkLease"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The downstream is not connected.</exception>
    public Task<RetiredLinkLease> TakeLeaseOfAsync(LinkDefinition retired, CancellationToken cancellationToken) =>
        RetiredLinkLease.TryTakeAsync(CurrentDownstream(), retired, _instanceName, cancellationToken);

    /// <summary>Whether a run of this instance runs the link now (it holds the link's lease, or the downstream has none). Any thread.</summary>
    public bool RunsHere => Status.State == LinkState.Running;

    private DownstreamSession CurrentDownstream() => _downstream.Current is { IsCompletedSuccessfully: true } current
        ? current.Result
        : throw new InvalidOperationException("The downstream is not connected.");
}
