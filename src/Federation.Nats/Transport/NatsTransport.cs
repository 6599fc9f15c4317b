using Federation.Core.Hosting;
using Federation.Core.Transport;
using Federation.Nats.Client;

namespace Federation.Nats.Transport;

/// <summary>
/// The NATS transport: federates NATS subject namespaces between independent nats-servers (schemes <c>nats</c> and <c>tls</c>).
/// See <c>src/Federation.Nats/Transport/README.md</c> for the mapping of exchanges, bindings and headers.
/// </summary>
/// <remarks>
/// URI query parameters (removed before connecting): <c>cluster-name</c> (the federation identity of this deployment; default the
/// server's INFO <c>server_name</c>), <c>monitor-port</c> (the server's HTTP monitoring port, polled at <c>/subsz</c> to learn
/// the downstream's subscription interest), <c>monitor-interval-ms</c> (poll interval, default 1000) and <c>namespaces</c>
/// (comma-separated exchange names reported as existing from the start; without it the first subject token is the exchange).
/// </remarks>
public sealed class NatsTransport : ITransport
{
    /// <inheritdoc />
    public IReadOnlyCollection<string> Schemes { get; } = ["nats", "tls"];

    /// <inheritdoc />
    public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = NatsUriSettings.Parse(request.Uri);
        var client = new NatsConnection(new NatsClientOptions
        {
            Servers = [settings.ServerUrl],
            Name = request.ConnectionName,
            DiscoverServers = false,
            MaxReconnectAttempts = 0,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        try
        {
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NatsAuthenticationException ex)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new AuthenticationFailedException($"NATS server {UriRedaction.Redact(request.Uri)} refused the credentials.", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new BrokerUnreachableException($"Could not connect to NATS server {UriRedaction.Redact(request.Uri)}: {ex.GetType().Name}.", ex);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new NatsBrokerConnection(client, settings, UriRedaction.Redact(request.Uri));
    }
}

/// <summary>Registers the NATS transport.</summary>
public static class NatsTransportServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="NatsTransport"/> (URI schemes <c>nats</c> and <c>tls</c>) and, for the Federation of Collectives, the
    /// subject transport <see cref="Messaging.NatsSubjectTransport"/> (see <see cref="NatsSubjectTransportServiceCollectionExtensions.AddNatsSubjectTransport"/>).
    /// </summary>
    public static IFederationBuilder AddNatsTransport(this IFederationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddNatsSubjectTransport();
        return builder.AddTransport<NatsTransport>();
    }
}

internal sealed record NatsUriSettings(string ServerUrl, string? ClusterName, int? MonitorPort, string Host, TimeSpan MonitorInterval, IReadOnlyList<string> Namespaces)
{
    public static NatsUriSettings Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            // "nats://TOK/EN@host" would make the client look up the host "TOK": refuse before anything connects.
            throw new BrokerUnreachableException($"'{UriRedaction.Redact(uri)}' {ambiguity}");
        }

        var query = uri.IndexOf('?', StringComparison.Ordinal);
        var server = query < 0 ? uri : uri[..query];
        string? cluster = null;
        int? monitor = null;
        var interval = TimeSpan.FromSeconds(1);
        IReadOnlyList<string> namespaces = [];
        if (query >= 0)
        {
            foreach (var part in uri[(query + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                var key = eq < 0 ? part : part[..eq];
                var value = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..]);
                switch (key)
                {
                    case "cluster-name": cluster = value; break;
                    case "monitor-port" when int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var port): monitor = port; break;
                    case "monitor-interval-ms" when int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var ms) && ms > 0: interval = TimeSpan.FromMilliseconds(ms); break;
                    case "namespaces": namespaces = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                    default: break;
                }
            }
        }

        if (!Uri.TryCreate(server, UriKind.Absolute, out var parsed) || parsed.Host.Length == 0)
        {
            throw new BrokerUnreachableException($"'{UriRedaction.Redact(uri)}' is not a valid nats:// or tls:// URI.");
        }

        return new NatsUriSettings(server.TrimEnd('/'), cluster, monitor, parsed.Host, interval, namespaces);
    }
}
