namespace Federation.Core.Transport;

/// <summary>
/// Leases for brokers with server-side queues (AMQP, the in-memory broker): a lease is an exclusive queue named after it,
/// which the broker gives to one connection and deletes when that connection closes or dies. Adapters whose broker
/// behaves so return one from <see cref="IBrokerConnection.Leases"/>.
/// </summary>
/// <remarks>
/// <para>
/// The holder's identity rides in the queue argument <see cref="HolderArgument"/>. A second connection's declaration fails
/// with <see cref="ResourceLockedException"/> (AMQP 405 RESOURCE_LOCKED) and tells nothing more, so who holds it comes from
/// <c>findArguments</c>, which reads the queue's arguments another way (the management API on RabbitMQ) if it can.
/// </para>
/// <para>
/// The broker deletes the queue with its connection, but anyone with the rights can also delete it while the connection
/// lives (<c>rabbitmqctl delete_queue</c>): the next asker then takes the lease while the holder still runs. So each held
/// lease watches its queue through <c>watchQueue</c> and is <see cref="IBrokerLease.Lost"/> as soon as the broker says
/// the queue went.
/// </para>
/// </remarks>
public sealed class ExclusiveQueueLeases : IBrokerLeases
{
    /// <summary>The queue argument that carries <see cref="LeaseRequest.Holder"/>.</summary>
    public const string HolderArgument = "x-federation-lease-holder";

    /// <summary>
    /// How long a lease queue's declaration may go on after the ask was cancelled, so that it can be given back when it
    /// succeeds. AMQP clients give up on an unanswered call after their own, shorter, continuation timeout.
    /// </summary>
    private static readonly TimeSpan AbandonedDeclarationTimeout = TimeSpan.FromSeconds(AbandonedDeclarationTimeoutSeconds);

    private const int AbandonedDeclarationTimeoutSeconds = 30;

    private readonly IBrokerConnection connection;
    private readonly Func<string, CancellationToken, ValueTask<IReadOnlyDictionary<string, object?>?>>? findArguments;
    private readonly Func<string, CancellationToken, ValueTask<IQueueWatch>>? watchQueue;

    /// <summary>Creates the leases of <paramref name="connection"/>.</summary>
    /// <param name="connection">The connection that declares, and so holds, the lease queues.</param>
    /// <param name="findArguments">
    /// Reads the arguments of an existing queue by name (null when it cannot), to tell who holds a lease; optional.
    /// Its failures are ignored: the holder is then unknown.
    /// </param>
    /// <param name="watchQueue">
    /// Starts watching a queue of <paramref name="connection"/> for its deletion (see <see cref="IQueueWatch"/>); it throws
    /// <see cref="ResourceNotFoundException"/> when the queue is already gone. Without it a lease is lost only with its
    /// connection, and one whose queue somebody deleted goes on looking held.
    /// </param>
    public ExclusiveQueueLeases(
        IBrokerConnection connection,
        Func<string, CancellationToken, ValueTask<IReadOnlyDictionary<string, object?>?>>? findArguments = null,
        Func<string, CancellationToken, ValueTask<IQueueWatch>>? watchQueue = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        this.connection = connection;
        this.findArguments = findArguments;
        this.watchQueue = watchQueue;
    }

    /// <summary>The exclusive, non-durable queue that stands for <paramref name="request"/>'s lease.</summary>
    /// <param name="request">The lease request.</param>
    public static QueueSpec QueueFor(LeaseRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new QueueSpec(
            request.Name,
            Durable: false,
            Exclusive: true,
            AutoDelete: false,
            new Dictionary<string, object?>(StringComparer.Ordinal) { [HolderArgument] = request.Holder });
    }

    /// <summary>The holder recorded in a lease queue's arguments, or <see langword="null"/>.</summary>
    /// <param name="arguments">The queue's declaration arguments.</param>
    public static string? HolderOf(IReadOnlyDictionary<string, object?>? arguments) =>
        arguments is not null && arguments.TryGetValue(HolderArgument, out var value) ? value switch
        {
            string text => text,
            byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
            _ => null,
        } : null;

    /// <inheritdoc />
    public async ValueTask<LeaseAttempt> TryAcquireAsync(LeaseRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();

        // Held by another instance, by the broker's own record: refused without a declaration, which the broker would
        // refuse with 405 RESOURCE_LOCKED. That refusal closes the channel, and RabbitMQ logs it as a channel error: one
        // at every poll of every waiting instance, for every link (a poll every 1 to 5 s). A queue that has no holder or
        // names this one (ours on this connection, a namesake's, or one going with an old connection) is declared, as
        // before, and the broker decides; so is any queue whose record cannot be read.
        if (await FindArgumentsQuietlyAsync(request.Name, cancellationToken).ConfigureAwait(false) is { } existing
            && HolderOf(existing) is { } recorded
            && !string.Equals(recorded, request.Holder, StringComparison.Ordinal))
        {
            return LeaseAttempt.HeldElsewhere(recorded);
        }

        // The declaration does not take the caller's token: the broker may have declared the queue by the time the caller
        // gives up, and then the queue is this connection's, with no lease for anyone to release, so every other instance
        // waits for it until the connection closes. So the caller stops waiting at once, and the declaration's outcome is
        // awaited in the background: once it is known to have succeeded, the queue is given back (see GiveBackWhenDeclared).
        var declaring = DeclareLeaseQueueAsync(request);
        try
        {
            await declaring.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceLockedException)
        {
            return LeaseAttempt.HeldElsewhere(await FindHolderAsync(request.Name, cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            GiveBackWhenDeclared(declaring, request);
            throw;
        }
        catch (OperationCanceledException error)
        {
            // AbandonedDeclarationTimeout, which transports with their own call timeouts never reach.
            throw new TransportException($"Declaring the lease queue '{request.Name}' did not finish within {AbandonedDeclarationTimeoutSeconds} s.", error);
        }

        IQueueWatch? watch = null;
        if (watchQueue is not null)
        {
            try
            {
                // Only once the queue is ours: watching starts after the declaration, and a deletion in between makes
                // the watch fail (not found), so no deletion goes unseen.
                watch = await watchQueue(request.Name, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TransportException or OperationCanceledException)
            {
                // Not held in any way the holder can trust: give the queue back rather than keep a lease nobody watches.
                await new HeldQueueLease(connection, request, watch: null).DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        return LeaseAttempt.Taken(new HeldQueueLease(connection, request, watch));
    }

    /// <summary>
    /// Declares the lease queue bounded by <see cref="AbandonedDeclarationTimeout"/> rather than by the caller's token (see
    /// <see cref="TryAcquireAsync"/>).
    /// </summary>
    private async Task DeclareLeaseQueueAsync(LeaseRequest request)
    {
        using var timeout = new CancellationTokenSource(AbandonedDeclarationTimeout);
        await connection.DeclareQueueAsync(QueueFor(request), timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the lease queue of an ask the caller gave up on once its declaration succeeded. Only then: the broker's
    /// declare-ok says the queue is this connection's (an exclusive queue of another connection cannot be declared, nor
    /// deleted, by this one), and a deletion sent after that reply cannot overtake the declaration. A declaration that
    /// failed, or whose outcome is unknown after <see cref="AbandonedDeclarationTimeout"/>, leaves nothing to do, or nothing
    /// this side can do: the broker drops the queue with the connection.
    /// </summary>
    private void GiveBackWhenDeclared(Task declaring, LeaseRequest request) => _ = GiveBackAsync(declaring, request);

    private async Task GiveBackAsync(Task declaring, LeaseRequest request)
    {
        try
        {
            await declaring.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A failed declaration left no queue; why it failed is of no interest to an ask given up on.
        catch (Exception)
#pragma warning restore CA1031
        {
            return;
        }

        // What a lease's release does, bounded the same way, its failures swallowed (the connection is then going).
        await new HeldQueueLease(connection, request, watch: null).DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The arguments of the queue, or null when it does not exist or they cannot be read (no way to, or a failure): then the
    /// declaration asks the broker instead, and who holds a refused lease is unknown, which only the status shows.
    /// </summary>
    private async ValueTask<IReadOnlyDictionary<string, object?>?> FindArgumentsQuietlyAsync(string name, CancellationToken cancellationToken)
    {
        if (findArguments is null)
        {
            return null;
        }

        try
        {
            return await findArguments(name, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TransportException or HttpRequestException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private async ValueTask<string?> FindHolderAsync(string name, CancellationToken cancellationToken) =>
        HolderOf(await FindArgumentsQuietlyAsync(name, cancellationToken).ConfigureAwait(false));
}
