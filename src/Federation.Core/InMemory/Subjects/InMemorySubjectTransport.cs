using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Core.InMemory.Subjects;

/// <summary>
/// The subject transport for <c>memory://[user:pass@]server</c> URIs (any path is ignored; credentials are accepted and
/// not checked). The server must be registered first (<see cref="InMemorySubjectServerRegistry.Add"/> or
/// <see cref="InMemorySubjectServerRegistry.GetOrAdd"/>): a name nobody registered is refused, so a typo in a URI is an
/// error rather than an empty server nobody else uses. A stopped server refuses connections.
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
    /// <exception cref="ArgumentException">The URI is malformed, or no server of that name is registered (the message names it).</exception>
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
            if (!registry.TryGet(uri.BrokerName, out var server))
            {
                var known = registry.Names;
                throw new ArgumentException(
                    $"No in-memory subject server named '{uri.BrokerName}' is registered ({UriRedaction.Redact(request.Uri)}); registered: " +
                    $"{(known.Count == 0 ? "none" : string.Join(", ", known.Select(n => $"'{n}'")))}. Register it with InMemorySubjectServerRegistry.Add or GetOrAdd before connecting.",
                    nameof(request));
            }

            return ValueTask.FromResult<ISubjectConnection>(server.Connect(request.ConnectionName, UriRedaction.Redact(request.Uri), _logger));
        }
        catch (Exception error) when (error is TransportException or ArgumentException)
        {
            return ValueTask.FromException<ISubjectConnection>(error);
        }
    }
}
