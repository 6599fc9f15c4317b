using System.Collections.Concurrent;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A second address for each in-memory broker, as a host name is for an IP address or another node is for a cluster:
/// <c>memory://alias-of-U/</c> reaches broker <c>U</c>. Nothing in the URI's text tells that the two reach one broker;
/// only connecting does. In a host name, <c>black-hole-</c> (<c>memory://black-hole-alias-of-U</c>) makes a connect never
/// complete until it is cancelled, as to an address that drops every packet.
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

    /// <summary>Every connect asked for, in order, with the URI as the engine wrote it.</summary>
    public ConcurrentQueue<ConnectionRequest> Requests { get; } = new();

    /// <summary>How many connects to a black hole are waiting (to be cancelled) now.</summary>
    public int BlackHoled => Volatile.Read(ref _blackHoled);

    private int _blackHoled;

    public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(request);
        return request.Uri.Contains(Unmapped, StringComparison.Ordinal)
            ? throw new InvalidOperationException("a client error no transport mapped")
            : request.Uri.Contains(BlackHole, StringComparison.Ordinal)
                ? new ValueTask<IBrokerConnection>(NeverAnswerAsync(cancellationToken))
                : inner.ConnectAsync(request with { Uri = Resolve(request.Uri) }, cancellationToken);
    }

    private async Task<IBrokerConnection> NeverAnswerAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _blackHoled);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            throw new InvalidOperationException("unreachable: an infinite delay ended without its cancellation");
        }
        finally
        {
            Interlocked.Decrement(ref _blackHoled);
        }
    }

    /// <summary>In a host name (<c>memory://unmapped-error-alias-of-U</c>), a connect fails with an exception no transport maps.</summary>
    private const string Unmapped = "unmapped-error-";

    /// <summary>In a host name (<c>memory://black-hole-alias-of-U</c>), a connect waits until it is cancelled.</summary>
    private const string BlackHole = "black-hole-";

    // With or without user-info before the host.
    private static string Resolve(string uri) =>
        uri.Replace(Unmapped, string.Empty, StringComparison.Ordinal).Replace(BlackHole, string.Empty, StringComparison.Ordinal).Replace("@alias-of-", "@", StringComparison.Ordinal) is var plain && plain.StartsWith(Alias, StringComparison.Ordinal)
            ? "memory://" + plain[Alias.Length..]
            : plain;
}
