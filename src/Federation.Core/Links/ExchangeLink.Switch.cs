namespace Federation.Core.Links;

/// <summary>The link's part in a reload that switches its kind of upstream queue (see <see cref="UpstreamPreparation"/>).</summary>
internal sealed partial class ExchangeLink
{
    // The connection a reload prepared for the first run of this link, or null. Taken by that run, or discarded when the
    // link waits for another instance or stops first.
    private UpstreamPreparation? _prepared;

    /// <summary>
    /// Declares and binds, on a connection of its own, the upstream queue of <paramref name="successor"/>, the definition
    /// that replaces this link's, while this link still runs: its first run takes it (<see cref="UsePrepared"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The downstream is not connected.</exception>
    public Task<UpstreamPreparation> PrepareSuccessorAsync(LinkDefinition successor, CancellationToken cancellationToken) =>
        UpstreamPreparation.PrepareAsync(Volatile.Read(ref _sessionContext), successor, CurrentDownstream(), _transports, _time, cancellationToken);

    // The session that runs now (set up and consuming), or null.
    private LinkSession? _running;

    /// <summary>
    /// Waits until the run's consumer has taken on what its upstream queue held when called (see
    /// <see cref="Federation.Core.Transport.IMessageConsumer.CatchUpAsync"/>), once the successor's queue is bound: what
    /// it had not taken on would go with the old queue. Nothing when no session runs; a failure ends the wait.
    /// </summary>
    public async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _running) is not { } session)
        {
            return;
        }

        try
        {
            await session.CatchUpAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Federation.Core.Transport.TransportException)
        {
            // The run fails: it stops anyway, and what it had not taken on goes as before.
        }
    }

    /// <summary>Hands this link's first run the upstream connection <paramref name="preparation"/> declared and bound its queue on. Before <see cref="Start"/>.</summary>
    public void UsePrepared(UpstreamPreparation preparation) => _prepared = preparation;

    /// <summary>The prepared connection, for the run that takes it; null when there is none (any more).</summary>
    private Federation.Core.Transport.IBrokerConnection? TakePrepared() => Interlocked.Exchange(ref _prepared, null)?.Take();

    /// <summary>Closes a prepared connection no run took: another instance runs the link, or it stops.</summary>
    private void DiscardPrepared()
    {
        if (Interlocked.Exchange(ref _prepared, null) is { } prepared)
        {
            _ = prepared.DisposeAsync().AsTask();
        }
    }
}
