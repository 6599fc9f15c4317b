using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A transport whose URIs choose between two kinds of upstream queue on one broker, as NATS' <c>jetstream=true</c> does:
/// a URI whose user is <c>kindb</c> declares "kind B", any other the transport's only kind. Everything else is the inner
/// transport's.
/// </summary>
internal sealed class QueueKindTransport(ITransport inner) : ITransport
{
    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public TransportCapabilities Capabilities => inner.Capabilities;

    public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

    public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) => inner.ValidateUpstream(uri, settings);

    public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

    public string? UpstreamQueueKind(string uri, string upstreamExchange) => uri.Contains("//kindb", StringComparison.Ordinal) ? "kind B" : null;

    public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) => inner.ConnectAsync(request, cancellationToken);
}
