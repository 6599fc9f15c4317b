namespace Federation.Core.Transport;

/// <summary>
/// Picks the transport for a URI by its scheme. It knows only the transport SPI, so that both the model (which validates
/// URIs against the registered transports) and the links (which connect) use it without depending on each other.
/// </summary>
internal sealed class TransportResolver
{
    private readonly Dictionary<string, ITransport> _bySchema = new(StringComparer.OrdinalIgnoreCase);

    public TransportResolver(IEnumerable<ITransport> transports)
    {
        foreach (var transport in transports)
        {
            foreach (var scheme in transport.Schemes)
            {
                _bySchema.TryAdd(scheme, transport);
            }
        }
    }

    /// <summary>The registered schemes, in ordinal order, for messages.</summary>
    public string RegisteredSchemes => string.Join(", ", _bySchema.Keys.Order(StringComparer.Ordinal));

    /// <summary>The transport serving <paramref name="uri"/>'s scheme.</summary>
    /// <exception cref="TransportException">No registered transport serves the scheme; the message lists the known ones.</exception>
    public ITransport Resolve(string uri) =>
        TryResolve(uri, out var transport)
            ? transport
            : throw new TransportException(
                $"No transport is registered for the scheme '{ShownScheme(uri)}' of '{UriRedaction.Redact(uri)}'. Registered schemes: {RegisteredSchemes}.");

    /// <summary>
    /// What is wrong with <paramref name="uri"/> before any connection: no transport serves its scheme, or the transport
    /// rejects it (<see cref="ITransport.ValidateUri"/>). Each problem is a sentence without the URI; empty when usable.
    /// </summary>
    public IReadOnlyList<string> Validate(string uri)
    {
        if (!TryResolve(uri, out var transport))
        {
            return [$"has no registered transport (registered: {RegisteredSchemes})"];
        }

        return transport.ValidateUri(uri);
    }

    /// <summary>
    /// The settings the transport of <paramref name="uri"/> refuses (<see cref="ITransport.ValidateUpstream"/>); empty when
    /// none, or when no transport serves the URI (<see cref="Validate"/> reports that).
    /// </summary>
    public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) =>
        TryResolve(uri, out var transport) ? transport.ValidateUpstream(uri, settings) : [];

    /// <summary>The coarse kind of upstream queue <paramref name="uri"/> declares (<see cref="ITransport.CoarseUpstreamQueueKind"/>); null for a scheme no transport has.</summary>
    public string? CoarseUpstreamQueueKind(string uri) => TryResolve(uri, out var transport) ? transport.CoarseUpstreamQueueKind(uri) : null;

    internal bool TryResolve(string uri, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ITransport? transport) =>
        _bySchema.TryGetValue(SchemeOf(uri), out transport);

    // What precedes "://" is shown only if it can be a scheme; otherwise it may be part of a credential.
    private static string ShownScheme(string uri)
    {
        var scheme = SchemeOf(uri);
        return scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.') ? scheme : "<redacted>";
    }

    private static string SchemeOf(string uri)
    {
        var end = uri.IndexOf("://", StringComparison.Ordinal);
        return end > 0 ? uri[..end] : "";
    }
}
