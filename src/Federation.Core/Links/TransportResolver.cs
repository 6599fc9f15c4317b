using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>Picks the transport for a URI by its scheme.</summary>
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

    /// <summary>The transport serving <paramref name="uri"/>'s scheme.</summary>
    /// <exception cref="TransportException">No registered transport serves the scheme; the message lists the known ones.</exception>
    public ITransport Resolve(string uri)
    {
        var end = uri.IndexOf("://", StringComparison.Ordinal);
        var scheme = end > 0 ? uri[..end] : "";

        // What precedes "://" is shown only if it can be a scheme; otherwise it may be part of a credential.
        var shownScheme = scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.') ? scheme : "<redacted>";
        return _bySchema.TryGetValue(scheme, out var transport)
            ? transport
            : throw new TransportException(
                $"No transport is registered for the scheme '{shownScheme}' of '{UriRedaction.Redact(uri)}'. Registered schemes: {string.Join(", ", _bySchema.Keys.Order(StringComparer.Ordinal))}.");
    }
}
