using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Core.InMemory.Subjects;

/// <summary>
/// The subject transport for <c>memory://[user:pass@]server</c> URIs (any path is ignored; credentials are accepted and
/// not checked). Connecting to a name that is not registered yet creates the server, as starting an embedded server
/// would; a stopped server refuses connections.
/// </summary>
/// <param name="registry">The servers this transport reaches.</param>
/// <param name="loggerFactory">Logs handler failures; optional.</param>
public sealed class InMemorySubjectTransport(InMemorySubjectServerRegistry registry, ILoggerFactory? loggerFactory = null) : ISubjectTransport
{
    /// <summary>The URI scheme this transport serves.</summary>
    public const string Scheme = InMemoryTransport.Scheme;

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<InMemorySubjectTransport>();

    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = [Scheme];

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The URI is malformed.</exception>
    /// <exception cref="BrokerUnreachableException">The server is stopped.</exception>
    public ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ISubjectConnection>(cancellationToken);
        }

        try
        {
            var uri = InMemoryUri.Parse(request.Uri);
            var server = registry.GetOrAdd(uri.BrokerName);
            return ValueTask.FromResult<ISubjectConnection>(server.Connect(request.ConnectionName, UriRedaction.Redact(request.Uri), _logger));
        }
        catch (Exception error) when (error is TransportException or ArgumentException)
        {
            return ValueTask.FromException<ISubjectConnection>(error);
        }
    }
}
