using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Federation.Core.Transport;

namespace Federation.Amqp;

/// <summary>
/// The few rabbitmq_management HTTP API calls the transport needs: the topology snapshot, and declaring internal exchanges
/// (which AMQP clients cannot). Uses the AMQP URI's host and credentials and the <c>management-port</c> query parameter.
/// </summary>
internal sealed class ManagementApi : IDisposable
{
    private readonly HttpClient http;
    private readonly string vhostSegment;
    private readonly string display;
    private readonly string? user;
    private readonly string? password;
    private readonly TimeSpan timeout;
    private readonly ServerCertificateCheck? certificateCheck;
    private readonly string? certFile;

    public ManagementApi(AmqpEndpoint endpoint)
    {
        var host = endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"[{endpoint.Host}]" : endpoint.Host;
        http = new HttpClient(CreateHandler(endpoint, out certificateCheck), disposeHandler: true) { BaseAddress = new Uri($"{endpoint.ManagementScheme}://{host}:{endpoint.ManagementPort.ToString(CultureInfo.InvariantCulture)}/api/"), Timeout = endpoint.ManagementTimeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{endpoint.User}:{endpoint.Password}")));
        vhostSegment = Uri.EscapeDataString(endpoint.VirtualHost);
        display = $"{endpoint.ManagementScheme}://{host}:{endpoint.ManagementPort.ToString(CultureInfo.InvariantCulture)}";
        user = endpoint.User;
        password = endpoint.Password;
        timeout = endpoint.ManagementTimeout;
        certFile = endpoint.CertFile;
    }

    /// <summary>
    /// Over https the management API is checked as the AMQP connection is: <c>verify</c>, <c>cacertfile</c> and
    /// <c>server_name_indication</c> for the server, <c>certfile</c>/<c>keyfile</c> as the client certificate. A broker
    /// whose AMQP listener uses a private CA almost always uses it for the management listener too.
    /// </summary>
    private static SocketsHttpHandler CreateHandler(AmqpEndpoint endpoint, out ServerCertificateCheck? check)
    {
        var handler = new SocketsHttpHandler();
        check = null;
        if (endpoint.ManagementScheme == "https")
        {
            var serverName = endpoint.ServerName ?? endpoint.Host;
            var trustedCas = endpoint.CaCertFile is { } caCertFile ? AmqpTlsFiles.LoadCaCertificates(caCertFile) : null;
            handler.SslOptions.TargetHost = serverName;
            check = new ServerCertificateCheck(serverName, endpoint.VerifyPeer, trustedCas);
            handler.SslOptions.RemoteCertificateValidationCallback = check.Validate;
            if (endpoint.CertFile is { } certFile)
            {
                handler.SslOptions.ClientCertificates = [AmqpTlsFiles.LoadClientCertificate(certFile, endpoint.KeyFile)];
            }
        }

        return handler;
    }

    /// <summary>Declares an exchange with <c>PUT /api/exchanges/{vhost}/{name}</c>.</summary>
    public async Task DeclareExchangeAsync(ExchangeSpec exchange, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", exchange.Type);
            writer.WriteBoolean("durable", exchange.Durable);
            writer.WriteBoolean("auto_delete", exchange.AutoDelete);
            writer.WriteBoolean("internal", exchange.Internal);
            writer.WritePropertyName("arguments");
            ManagementJson.WriteTable(writer, exchange.Arguments);
            writer.WriteEndObject();
        }

        using var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(HttpMethod.Put, $"exchanges/{vhostSegment}/{Uri.EscapeDataString(exchange.Name)}", content, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        // The API's reason is the broker's text, which names the user on a refusal ("... refused for user 'alice'").
        var reason = AmqpErrors.Scrub(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false), user, password);
        if (AmqpErrors.IsUnknownType(reason) || reason.Contains("command_invalid", StringComparison.OrdinalIgnoreCase))
        {
            throw new ExchangeTypeNotSupportedException($"The broker does not support exchange type '{exchange.Type}': {reason}");
        }

        throw response.StatusCode switch
        {
            HttpStatusCode.BadRequest when reason.Contains("inequivalent", StringComparison.OrdinalIgnoreCase) || reason.Contains("precondition", StringComparison.OrdinalIgnoreCase) =>
                new PreconditionFailedException($"406 PRECONDITION_FAILED declaring exchange '{exchange.Name}': {reason}"),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                new TransportException($"ACCESS_REFUSED by the management API at {display}: {RefusalCause("the user needs the 'management' tag and configure permission")} ({reason})"),
            _ => new TransportException($"The management API at {display} refused to declare exchange '{exchange.Name}': {(int)response.StatusCode} {reason}"),
        };
    }

    /// <summary>Reads <c>GET /api/exchanges/{vhost}</c> and <c>GET /api/bindings/{vhost}</c>.</summary>
    public async Task<(List<ExchangeSpec> Exchanges, List<BindingSpec> Bindings)> ReadTopologyAsync(CancellationToken cancellationToken)
    {
        using var exchangesJson = await GetJsonAsync($"exchanges/{vhostSegment}?columns=name,type,durable,auto_delete,internal,arguments", cancellationToken).ConfigureAwait(false);
        using var bindingsJson = await GetJsonAsync($"bindings/{vhostSegment}", cancellationToken).ConfigureAwait(false);
        var exchanges = new List<ExchangeSpec>();
        foreach (var item in exchangesJson.RootElement.EnumerateArray())
        {
            var name = item.GetProperty("name").GetString() ?? string.Empty;
            if (name.Length == 0)
            {
                continue; // The default exchange cannot be federated or bound.
            }

            exchanges.Add(new ExchangeSpec(
                name,
                item.GetProperty("type").GetString() ?? string.Empty,
                item.GetProperty("durable").GetBoolean(),
                item.GetProperty("auto_delete").GetBoolean(),
                item.GetProperty("internal").GetBoolean(),
                ManagementJson.ReadTable(item, "arguments")));
        }

        var bindings = new List<BindingSpec>();
        foreach (var item in bindingsJson.RootElement.EnumerateArray())
        {
            var source = item.GetProperty("source").GetString() ?? string.Empty;
            if (source.Length == 0)
            {
                continue; // Implicit default-exchange bindings.
            }

            bindings.Add(new BindingSpec(
                source,
                item.GetProperty("destination").GetString() ?? string.Empty,
                item.GetProperty("destination_type").GetString() == "exchange" ? BindingDestinationKind.Exchange : BindingDestinationKind.Queue,
                item.GetProperty("routing_key").GetString() ?? string.Empty,
                ManagementJson.ReadTable(item, "arguments")));
        }

        return (exchanges, bindings);
    }

    /// <summary>
    /// Whether an exchange (<paramref name="kind"/> <c>exchanges</c>) or a queue (<c>queues</c>) of the vhost exists, with
    /// <c>GET /api/{kind}/{vhost}/{name}</c>: a missing one is a 404 answer, where a passive declare would close an AMQP
    /// channel and make the broker log a channel error. The API reads the broker's own records, which a declare or delete
    /// has changed before its AMQP answer, so it agrees with what this connection did.
    /// </summary>
    public async ValueTask<bool> ExistsAsync(string kind, string name, CancellationToken cancellationToken)
    {
        var path = $"{kind}/{vhostSegment}/{Uri.EscapeDataString(name)}?columns=name";
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await GetRefusedAsync(response, $"{kind}/{vhostSegment}/<name>", cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// Reads a queue's declaration arguments with <c>GET /api/queues/{vhost}/{name}</c>, or null when there is no such
    /// queue. Works for another connection's exclusive queue, which AMQP itself refuses to touch.
    /// </summary>
    public async ValueTask<IReadOnlyDictionary<string, object?>?> GetQueueArgumentsAsync(string name, CancellationToken cancellationToken)
    {
        var path = $"queues/{vhostSegment}/{Uri.EscapeDataString(name)}?columns=arguments";
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await GetRefusedAsync(response, $"queues/{vhostSegment}/<queue>", cancellationToken).ConfigureAwait(false);
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var json = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            return ManagementJson.ReadTable(json.RootElement, "arguments");
        }
    }

    public void Dispose() => http.Dispose();

    private async Task<JsonDocument> GetJsonAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await GetRefusedAsync(response, path.Split('?')[0], cancellationToken).ConfigureAwait(false);
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    // A GET that did not succeed. A user without the 'management' tag (or without access to the vhost) gets 401 or 403:
    // the downstream's user reads the topology snapshot this way, so say what it needs, as a declare does, with the
    // broker's reason (scrubbed: it can name the user).
    private async Task<TransportException> GetRefusedAsync(HttpResponseMessage response, string path, CancellationToken cancellationToken)
    {
        var answered = $"{(int)response.StatusCode} {response.ReasonPhrase} to GET /api/{path}";
        if (response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden))
        {
            return new TransportException($"The management API at {display} answered {answered}.");
        }

        var reason = AmqpErrors.Scrub(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false), user, password);
        return new TransportException(
            $"ACCESS_REFUSED by the management API at {display}: {RefusalCause("the user needs the 'management' tag and permissions on the vhost")} ({answered}: {reason})");
    }

    // The innermost message of a failed TLS handshake (a refused certificate, either side's), or null when the request
    // failed otherwise. The outer ones only say "see inner exception".
    private static string? TlsFailure(HttpRequestException error)
    {
        string? failure = null;
        for (Exception? inner = error.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Security.Authentication.AuthenticationException || failure is not null)
            {
                failure = inner.Message;
            }
        }

        return failure;
    }

    // HTTP basic authentication (RFC 7617) cannot carry a user name with ':': the broker reads the name up to the first
    // ':' and the rest as the password. Such a user logs in over AMQP and is then refused here whatever its tags, so the
    // usual advice (tag, permissions) would send the operator looking in the wrong place.
    private string RefusalCause(string usual) =>
        user is not null && user.Contains(':', StringComparison.Ordinal)
            ? "the URI's user name contains ':', which HTTP basic authentication cannot carry (the broker reads the name only up to the ':'), so the management API never logs this user in, whatever its tags; use a user whose name has no ':'"
            : usual;

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        try
        {
            return await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException error) when (TlsFailure(error) is { } handshake)
        {
            // HttpClient says only "The SSL connection could not be established, see inner exception", and the log shows
            // the exception's message: say why, as the AMQP connection does (the check's reason, else the TLS stack's).
            var reason = certificateCheck?.Failure is { } refusal
                ? $"TLS refused the server: {refusal}"
                : $"the TLS handshake failed: {AmqpErrors.Scrub(handshake, user, password)}" +
                  (certFile is not null && AmqpClientCertificateRefusal.Describe(certFile, handshake, DateTimeOffset.UtcNow) is { } refusedCertificate ? $" ({refusedCertificate})" : string.Empty);
            throw new TransportException(
                $"The RabbitMQ management API at {display} could not be used: {reason}",
                AmqpErrors.SafeInner(error, user, password));
        }
        catch (HttpRequestException error)
        {
            throw new TransportException(
                $"The RabbitMQ management API is not reachable at {display} (is the rabbitmq_management plugin enabled, and is 'management-port' right?): {AmqpErrors.Scrub(error.Message, user, password)}",
                AmqpErrors.SafeInner(error, user, password));
        }
        catch (TaskCanceledException error) when (!cancellationToken.IsCancellationRequested)
        {
            // HttpClient.Timeout: no answer in time, most often from a listener that took the connection and says nothing
            // (a refused connection is the HttpRequestException above). Unreachable rather than refused, so that the link fails now, naming it, instead of treating it as a refusal
            // it can run without (the sentinel) and waiting as long again on the next call.
            var seconds = timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
            throw new BrokerUnreachableException(
                $"The RabbitMQ management API at {display} did not answer within {seconds} s " +
                $"(the URI's '{AmqpEndpoint.ManagementTimeoutKey}'): a hung or overloaded node, a network that drops the traffic, or another service on 'management-port'.",
                AmqpErrors.SafeInner(error, user, password));
        }
    }
}
