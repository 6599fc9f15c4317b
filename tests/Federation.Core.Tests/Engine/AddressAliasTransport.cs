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
        request.Uri.Contains(Unmapped, StringComparison.Ordinal)
            ? throw new InvalidOperationException("a client error no transport mapped")
            : inner.ConnectAsync(request with { Uri = Resolve(request.Uri) }, cancellationToken);

    /// <summary>In a host name (<c>memory://unmapped-error-alias-of-U</c>), a connect fails with an exception no transport maps.</summary>
    private const string Unmapped = "unmapped-error-";

    // With or without user-info before the host.
    private static string Resolve(string uri) =>
        uri.Replace(Unmapped, string.Empty, StringComparison.Ordinal).Replace("@alias-of-", "@", StringComparison.Ordinal) is var plain && plain.StartsWith(Alias, StringComparison.Ordinal)
            ? "memory://" + plain[Alias.Length..]
            : plain;
}
