using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A second address for each in-memory broker, as a host name is for an IP address or another node is for a cluster:
/// <c>memory://alias-of-U/</c> reaches broker <c>U</c>. Nothing in the URI's text tells that the two reach one broker;
/// only connecting does.
/// </summary>
internal sealed class AddressAliasTransport(ITransport inner) : ITransport
{
    private const string Alias = "memory://alias-of-";

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public TransportCapabilities Capabilities => inner.Capabilities;

    public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(Resolve(uri));

    public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) => inner.ValidateUpstream(Resolve(uri), settings);

    public string? UpstreamQueueKind(string uri, string upstreamExchange) => inner.UpstreamQueueKind(Resolve(uri), upstreamExchange);

    public string? CoarseUpstreamQueueKind(string uri) => inner.CoarseUpstreamQueueKind(Resolve(uri));

    public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(Resolve(uri));

    public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
        inner.ConnectAsync(request with { Uri = Resolve(request.Uri) }, cancellationToken);

    private static string Resolve(string uri) =>
        uri.StartsWith(Alias, StringComparison.Ordinal) ? "memory://" + uri[Alias.Length..] : uri;
}
