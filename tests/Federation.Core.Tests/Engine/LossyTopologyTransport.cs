using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Wraps a transport so that the downstream topology feed loses the changes <paramref name="lose"/> picks, as an event
/// stream with gaps would. Everything else passes through.
/// </summary>
internal sealed class LossyTopologyTransport(ITransport inner, Func<TopologyChange, bool> lose) : ITransport
{
    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        new LossyConnection(await inner.ConnectAsync(request, cancellationToken), lose);

    private sealed class LossyConnection(IBrokerConnection inner, Func<TopologyChange, bool> lose) : DelegatingBrokerConnection(inner), ITopologySource
    {
        public override ITopologySource? Topology => Inner.Topology is null ? null : this;

        public IDisposable Subscribe(Action<TopologyChange> onChange) =>
            Inner.Topology!.Subscribe(change =>
            {
                if (!lose(change))
                {
                    onChange(change);
                }
            });

        public ValueTask<TopologySnapshot> GetSnapshotAsync(CancellationToken cancellationToken) => Inner.Topology!.GetSnapshotAsync(cancellationToken);
    }
}
