using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport to keep the <see cref="ConnectionRequest.Blocked"/> callback of the latest connection to the
/// supervisor's downstream, so that a test can say, as RabbitMQ's connection.blocked does, that the broker blocks publishing.
/// </summary>
internal sealed class BlockingDownstreamTransport(ITransport inner) : ITransport
{
    private volatile Action<string?>? _blocked;

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    /// <summary>Reports <paramref name="reason"/> (null: unblocked) on the supervisor's downstream connection.</summary>
    public void Report(string? reason) => (_blocked ?? throw new InvalidOperationException("No downstream connection yet."))(reason);

    public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        if (request.Blocked is { } blocked)
        {
            _blocked = blocked;
        }

        return inner.ConnectAsync(request, cancellationToken);
    }
}
