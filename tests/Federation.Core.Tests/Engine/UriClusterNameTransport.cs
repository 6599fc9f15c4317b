using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// In-memory URIs that name their downstream's cluster as NATS URIs do: <c>memory://D/%2f?cluster-name=east</c> previews
/// and connects as cluster <c>east</c> (the key is taken off before the inner transport sees the URI); without the key,
/// the inner transport's name holds.
/// </summary>
internal sealed class UriClusterNameTransport(ITransport inner) : ITransport
{
    private const string Key = "?cluster-name=";

    public IReadOnlyCollection<string> Schemes => inner.Schemes;

    public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(Split(uri).Uri);

    public DownstreamPreview? PreviewDownstream(string uri)
    {
        var (plain, name) = Split(uri);
        return inner.PreviewDownstream(plain) is { } preview ? preview with { ClusterName = name ?? preview.ClusterName } : null;
    }

    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        var (plain, name) = Split(request.Uri);
        var connection = await inner.ConnectAsync(request with { Uri = plain }, cancellationToken);
        return name is null ? connection : new Named(connection, name);
    }

    private static (string Uri, string? ClusterName) Split(string uri) =>
        uri.IndexOf(Key, StringComparison.Ordinal) is var at and >= 0 ? (uri[..at], uri[(at + Key.Length)..]) : (uri, null);

    // Declares the interface again, so that its OpenLedgerAsync passes the inner connection's ledger on.
    private sealed class Named(IBrokerConnection inner, string clusterName) : DelegatingBrokerConnection(inner), IBrokerConnection
    {
        public override string? ClusterName => clusterName;

        public ValueTask<IDeliveryLedger?> OpenLedgerAsync(LedgerOptions options, CancellationToken cancellationToken) => Inner.OpenLedgerAsync(options, cancellationToken);
    }
}
