namespace Federation.Core.Transport;

/// <summary>
/// Leases for brokers with server-side queues (AMQP, the in-memory broker): a lease is an exclusive queue named after it,
/// which the broker gives to one connection and deletes when that connection closes or dies. Adapters whose broker
/// behaves so return one from <see cref="IBrokerConnection.Leases"/>.
/// </summary>
/// <remarks>
/// The holder's identity rides in the queue argument <see cref="HolderArgument"/>. A second connection's declaration fails
/// with <see cref="ResourceLockedException"/> (AMQP 405 RESOURCE_LOCKED) and tells nothing more, so who holds it comes from
/// <c>findHolder</c>, which reads the queue's arguments another way (the management API on RabbitMQ) if it can.
/// </remarks>
public sealed class ExclusiveQueueLeases : IBrokerLeases
{
    /// <summary>The queue argument that carries <see cref="LeaseRequest.Holder"/>.</summary>
    public const string HolderArgument = "x-federation-lease-holder";

    private readonly IBrokerConnection connection;
    private readonly Func<string, CancellationToken, ValueTask<IReadOnlyDictionary<string, object?>?>>? findArguments;

    /// <summary>Creates the leases of <paramref name="connection"/>.</summary>
    /// <param name="connection">The connection that declares, and so holds, the lease queues.</param>
    /// <param name="findArguments">
    /// Reads the arguments of an existing queue by name (null when it cannot), to tell who holds a lease; optional.
    /// Its failures are ignored: the holder is then unknown.
    /// </param>
    public ExclusiveQueueLeases(IBrokerConnection connection, Func<string, CancellationToken, ValueTask<IReadOnlyDictionary<string, object?>?>>? findArguments = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        this.connection = connection;
        this.findArguments = findArguments;
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
        try
        {
            await connection.DeclareQueueAsync(QueueFor(request), cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceLockedException)
        {
            return LeaseAttempt.HeldElsewhere(await FindHolderAsync(request.Name, cancellationToken).ConfigureAwait(false));
        }

        return LeaseAttempt.Taken(new HeldQueueLease(connection, request));
    }

    private async ValueTask<string?> FindHolderAsync(string name, CancellationToken cancellationToken)
    {
        if (findArguments is null)
        {
            return null;
        }

        try
        {
            return HolderOf(await findArguments(name, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is TransportException or HttpRequestException or System.Text.Json.JsonException)
        {
            return null; // Who holds it is for the status only; not knowing is no reason to fail the attempt.
        }
    }
}
