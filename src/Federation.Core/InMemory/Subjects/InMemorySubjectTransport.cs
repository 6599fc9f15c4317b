using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Core.InMemory.Subjects;

/// <summary>
/// The subject transport for <c>memory://[user:pass@]server</c> URIs (any path is ignored; credentials are accepted and
/// not checked). The server must be registered first (<see cref="InMemorySubjectServerRegistry.Add"/> or
/// <see cref="InMemorySubjectServerRegistry.GetOrAdd"/>): a name nobody registered is refused, so a typo in a URI is an
/// error rather than an empty server nobody else uses (in a host, an error of the broker options at start, naming the
/// key: see <see cref="ValidateUri"/>). A stopped server refuses connections.
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

    /// <summary>
    /// What is wrong with <paramref name="uri"/>: a malformed <c>memory://</c> URI, or a server nobody registered, named with
    /// the servers that are. Checked with the broker options at host start (the key is then named), which is when the first
    /// connect happens anyway: a server must be registered before the host starts, as it must be before a connect.
    /// </summary>
    /// <param name="uri">The URI to check.</param>
    public IReadOnlyList<string> ValidateUri(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var problems = InMemoryUri.Problems(uri);
        if (problems.Count > 0)
        {
            return problems;
        }

        var name = InMemoryUri.Parse(uri).BrokerName;
        return registry.TryGet(name, out _) ? [] : [Unregistered(name, "before the host starts")];
    }

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
                throw new ArgumentException($"{Unregistered(uri.BrokerName, "before connecting")} ({UriRedaction.Redact(request.Uri)})", nameof(request));
            }

            return ValueTask.FromResult<ISubjectConnection>(server.Connect(request.ConnectionName, UriRedaction.Redact(request.Uri), _logger));
        }
        catch (Exception error) when (error is TransportException or ArgumentException)
        {
            return ValueTask.FromException<ISubjectConnection>(error);
        }
    }

    private string Unregistered(string name, string when)
    {
        var known = registry.Names;
        return $"No in-memory subject server named '{name}' is registered (registered: {(known.Count == 0 ? "none" : string.Join(", ", known.Select(n => $"'{n}'")))}); " +
            $"register it with InMemorySubjectServerRegistry.Add or GetOrAdd {when}";
    }
}
