using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// In-memory downstream URIs that tell their virtual host but not their cluster name, as AMQP URIs do: only the broker
/// tells its name, once connected. (The in-memory transport's preview gives the registered broker's name, so a second
/// address of a broker would otherwise be known for the same downstream without connecting.)
/// </summary>
internal sealed class AdvertisedNameOnlyTransport(ITransport inner) : ITransport
{
    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public TransportCapabilities Capabilities => inner.Capabilities;

    public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

    public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) => inner.ValidateUpstream(uri, settings);

    public string? UpstreamQueueKind(string uri, string upstreamExchange) => inner.UpstreamQueueKind(uri, upstreamExchange);

    public string? CoarseUpstreamQueueKind(string uri) => inner.CoarseUpstreamQueueKind(uri);

    public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri) is { } preview ? preview with { ClusterName = null } : null;

    public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) => inner.ConnectAsync(request, cancellationToken);
}
