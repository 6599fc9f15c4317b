using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>Picks the <see cref="ISubjectTransport"/> for a URI by its scheme (case-insensitive; the last registration of a scheme wins).</summary>
public sealed class SubjectTransportResolver
{
    private readonly Dictionary<string, ISubjectTransport> _bySchema = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Indexes <paramref name="transports"/> by their schemes.</summary>
    public SubjectTransportResolver(IEnumerable<ISubjectTransport> transports)
    {
        ArgumentNullException.ThrowIfNull(transports);
        foreach (var transport in transports)
        {
            foreach (var scheme in transport.Schemes)
            {
                _bySchema[scheme] = transport;
            }
        }
    }

    /// <summary>The transport serving <paramref name="uri"/>.</summary>
    /// <exception cref="ArgumentException">The URI has no scheme, or no transport serves it; the message shows the URI without credentials.</exception>
    public ISubjectTransport Resolve(string uri)
    {
        ArgumentException.ThrowIfNullOrEmpty(uri);
        var end = uri.IndexOf("://", StringComparison.Ordinal);
        if (end <= 0)
        {
            throw new ArgumentException($"'{UriRedaction.Redact(uri)}' is not a URI with a scheme (for example nats://host:4222 or memory://name).", nameof(uri));
        }

        var scheme = uri[..end];

        // What precedes "://" is shown only if it can be a scheme; otherwise it may be part of a credential.
        var shownScheme = scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.') ? scheme : "<redacted>";
        return _bySchema.TryGetValue(scheme, out var transport)
            ? transport
            : throw new ArgumentException(
                $"No subject transport serves scheme '{shownScheme}' ({UriRedaction.Redact(uri)}); registered: {string.Join(", ", _bySchema.Keys.Order(StringComparer.Ordinal))}. " +
                "Register one in DI as an ISubjectTransport (for NATS: services.AddNatsSubjectTransport(); for RabbitMQ: services.AddAmqpSubjectTransport()).", nameof(uri));
    }

    /// <summary>Connects to <paramref name="uri"/> with the transport serving its scheme.</summary>
    /// <param name="uri">Server URI, credentials allowed.</param>
    /// <param name="connectionName">Connection name shown by the server's monitoring.</param>
    /// <param name="cancellationToken">Cancels the connect attempt.</param>
    public ValueTask<ISubjectConnection> ConnectAsync(string uri, string connectionName, CancellationToken cancellationToken) =>
        Resolve(uri).ConnectAsync(new SubjectConnectionRequest(uri, connectionName), cancellationToken);
}
