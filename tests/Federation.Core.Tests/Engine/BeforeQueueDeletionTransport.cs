using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that a test's step runs right before each queue deletion goes to the broker: what it publishes
/// there reaches the queue between anything the engine did before and the deletion itself.
/// </summary>
internal sealed class BeforeQueueDeletionTransport(ITransport inner) : ITransport
{
    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

    /// <summary>Runs, with the queue's name, before each queue deletion; null for nothing.</summary>
    public Func<string, Task>? BeforeDeletion { get; set; }

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new Connection(await inner.ConnectAsync(request, cancellationToken), this);

    private sealed class Connection(IBrokerConnection inner, BeforeQueueDeletionTransport transport) : DelegatingBrokerConnection(inner)
    {
        public override async ValueTask DeleteQueueAsync(string name, CancellationToken cancellationToken)
        {
            await (transport.BeforeDeletion?.Invoke(name) ?? Task.CompletedTask);
            await Inner.DeleteQueueAsync(name, cancellationToken);
        }

        public override async ValueTask<long?> DeleteQueueCountingDiscardedAsync(string name, CancellationToken cancellationToken)
        {
            await (transport.BeforeDeletion?.Invoke(name) ?? Task.CompletedTask);
            return await Inner.DeleteQueueCountingDiscardedAsync(name, cancellationToken);
        }
    }
}
