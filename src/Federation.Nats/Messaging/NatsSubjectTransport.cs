using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Client;
using Federation.Nats.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Nats.Messaging;

/// <summary>
/// The subject-messaging transport over NATS (URI schemes <c>nats</c> and <c>tls</c>), used by the Federation of Collectives:
/// subjects, wildcards, queue groups, headers and reply subjects map one to one onto core NATS.
/// </summary>
/// <remarks>
/// <para>Each connection reconnects on its own and replays its subscriptions (forever by default); its
/// <see cref="ISubjectConnection.Completion"/> faults only when it gives up. Publishing while disconnected fails fast with
/// <see cref="ConnectionLostException"/>; a message over the server's <c>max_payload</c> fails with
/// <see cref="PublishNackedException"/>. Requests for "no responders" status replies are switched off, so a reply subject only
/// ever receives what someone published to it.</para>
/// <para>URI query parameters (removed before connecting): <c>max-reconnect-attempts</c> (default -1, forever),
/// <c>reconnect-wait-ms</c> (first wait between attempts, default 2000, doubling to 5000) and <c>connect-timeout-ms</c>
/// (default 5000). Unknown keys are rejected.</para>
/// <para>Headers: every value of a name is kept in order, but NATS groups a name's values together, so fields interleaved by
/// name come back grouped by name, names in the order of their first appearance.</para>
/// </remarks>
public sealed class NatsSubjectTransport : ISubjectTransport
{
    private readonly ILogger _logger;

    /// <summary>Creates the transport.</summary>
    /// <param name="loggerFactory">Where connection events and handler failures are logged; null logs nothing.</param>
    public NatsSubjectTransport(ILoggerFactory? loggerFactory = null) =>
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<NatsSubjectTransport>();

    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = ["nats", "tls"];

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The URI is not a nats:// or tls:// URI, or has an unknown or invalid query parameter.</exception>
    public async ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = NatsSubjectUriSettings.Parse(request.Uri);
        var displayUri = UriRedaction.Redact(request.Uri);
        var client = new NatsConnection(new NatsClientOptions
        {
            Servers = [settings.ServerUrl],
            Name = request.ConnectionName,
            NoResponders = false,
            MaxReconnectAttempts = settings.MaxReconnectAttempts,
            ReconnectWaitMin = settings.ReconnectWait,
            ReconnectWaitMax = settings.ReconnectWait > NatsClientOptions.Default.ReconnectWaitMax ? settings.ReconnectWait : NatsClientOptions.Default.ReconnectWaitMax,
            ConnectTimeout = settings.ConnectTimeout,
        });
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsAuthenticationException ex)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new AuthenticationFailedException($"NATS server {displayUri} refused the credentials.", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw NatsConnectErrors.Unreachable(request.Uri, displayUri, ex);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new NatsSubjectConnection(client, displayUri, request.ConnectionName, settings.Tls, _logger);
    }
}
