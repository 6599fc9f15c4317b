using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// The upstream connection of a link's next run, with the run's queue already declared and bound on it, made while the
/// link's current run still consumes another kind of upstream queue (a reload switched the kind,
/// <see cref="ITransport.UpstreamQueueKind"/>): make before break. From the moment it is bound, the new queue receives what
/// the upstream exchange routes to the link (NATS: a JetStream durable consumer exists on the stream; core subscriptions
/// buffer in this connection), so the next run, which consumes it on this very connection, misses nothing the old run had
/// not received when it stopped. What both received arrives twice. Before 7 Dec 2026 the old run stopped first, and what
/// the upstream published until the new run's first pull or subscription was not forwarded (a black-box run at 500 msg/s
/// lost 50 of 10,000 messages switching core NATS to JetStream, 123 switching back).
/// </summary>
internal sealed class UpstreamPreparation : IAsyncDisposable
{
    private IBrokerConnection? _connection;

    private UpstreamPreparation(IBrokerConnection connection) => _connection = connection;

    /// <summary>
    /// Connects to the upstream of <paramref name="successor"/> and declares and binds its queue there as its run would
    /// (<see cref="LinkSession.PrepareAsync"/>), replaying the bindings of <paramref name="context"/>'s downstream exchange.
    /// </summary>
    /// <param name="context">The context of the link that runs now (same id and downstream exchange as the successor).</param>
    /// <param name="successor">The definition the link's next run has.</param>
    /// <param name="downstream">The downstream session the link runs on.</param>
    /// <param name="transports">Resolves the upstream URIs.</param>
    /// <param name="time">The clock of the connect's backstop.</param>
    /// <param name="cancellationToken">Abandons the preparation; the connection is closed.</param>
    public static async Task<UpstreamPreparation> PrepareAsync(LinkSessionContext context, LinkDefinition successor, DownstreamSession downstream, TransportResolver transports, TimeProvider time, CancellationToken cancellationToken)
    {
        var upstream = await UpstreamObjects.ConnectAsync(successor, transports, time, cancellationToken).ConfigureAwait(false);
        try
        {
            var session = new LinkSession(context with { Definition = successor, Feed = new BindingFeed() }, downstream, upstream, lease: null);
            await session.PrepareAsync(cancellationToken).ConfigureAwait(false);
            return new UpstreamPreparation(upstream);
        }
        catch
        {
            await upstream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Takes the prepared connection, once; null when it was taken or discarded. Any thread.</summary>
    public IBrokerConnection? Take() => Interlocked.Exchange(ref _connection, null);

    /// <summary>Closes the connection unless a run took it (the link did not run here after all: core NATS buffers stop).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Take() is { } connection)
        {
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TransportException or ObjectDisposedException or OperationCanceledException)
            {
                // Closing something that is already broken.
            }
        }
    }
}
