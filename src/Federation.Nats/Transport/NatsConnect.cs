using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>Opens an official client connection within a deadline that covers TCP, TLS, INFO and the CONNECT handshake.</summary>
internal static class NatsConnect
{
    /// <summary>
    /// Builds the options (<see cref="NatsOptsFactory"/>, then <paramref name="adjust"/>) and connects, the one way both NATS
    /// transports open a connection: a file the URI names that cannot be read, a refused login or certificate, an
    /// unreachable server or a silent one become transport exceptions that name the cause and show no secret. A refused
    /// server certificate is named by why it was refused (<see cref="NatsTlsDiagnosis"/>).
    /// </summary>
    /// <param name="rawUri">The URI as configured (only ever shown redacted).</param>
    /// <param name="displayUri">The redacted URI.</param>
    /// <param name="serverUrl">The server URI without its query.</param>
    /// <param name="security">TLS and login from the URI.</param>
    /// <param name="connectionName">The connection name the server shows.</param>
    /// <param name="connectTimeout">The deadline of the whole connect attempt.</param>
    /// <param name="configure">The user's options callback, or null.</param>
    /// <param name="adjust">What the transport itself sets last.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    public static async Task<NatsConnection> ConnectAsync(
        string rawUri,
        string displayUri,
        string serverUrl,
        NatsSecuritySettings security,
        string connectionName,
        TimeSpan connectTimeout,
        Func<NatsOpts, NatsOpts>? configure,
        Func<NatsOpts, NatsOpts> adjust,
        CancellationToken cancellationToken)
    {
        NatsOpts opts;
        var tls = new NatsTlsDiagnosis();
        try
        {
            opts = adjust(NatsOptsFactory.Create(serverUrl, security, connectionName, connectTimeout, configure));
            opts = opts with { TlsOpts = tls.Watch(opts.TlsOpts, opts.Url) };
        }
        catch (Exception ex) when (NatsSecurityFiles.IsFileProblem(ex))
        {
            // The file named by its key; the inner exception only when it does not quote the path (the redacted URI masks it).
            var file = security.KeyOfFileIn(ex) is { } key ? $"the file of '{key}' cannot be used now: " : string.Empty;
            throw new Core.Transport.BrokerUnreachableException(
                $"Could not connect to the NATS server: {file}{NatsSecurityFiles.Describe(ex)}. URI: {displayUri}", NatsErrorText.SafeInner(ex, security));
        }

        var client = new NatsConnection(opts);
        try
        {
            await OpenAsync(client, connectTimeout, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            if (NatsSecurityFailure.ToTransportException(ex, security, displayUri, tls.Rejection) is { } refused)
            {
                throw refused;
            }

            // A timed-out attempt got past the name lookup (or the lookup is what hangs): looking again explains nothing.
            var unresolved = ex is TimeoutException ? null : await NatsHostResolution.DescribeAsync(opts.Url, cancellationToken).ConfigureAwait(false);
            throw NatsConnectErrors.Translate(rawUri, displayUri, ex, unresolved);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Connects <paramref name="client"/>, or throws <see cref="TimeoutException"/> once <paramref name="deadline"/> has passed:
    /// a peer that accepts TCP and never speaks must not hold the caller.
    /// </summary>
    public static async Task OpenAsync(NatsConnection client, TimeSpan deadline, CancellationToken cancellationToken)
    {
        try
        {
            await client.ConnectAsync().AsTask().WaitAsync(deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException || IsClientTimeout(ex))
        {
            // The client's own ConnectTimeout is the same deadline and usually fires first, as a NatsException around
            // "The operation has timed out": either way the reason names the setting and its value.
            throw new TimeoutException($"Timed out: no NATS handshake within {deadline.TotalMilliseconds:0} ms (connect-timeout-ms)", ex);
        }
    }

    private static bool IsClientTimeout(Exception error)
    {
        for (var cause = error; cause is not null; cause = cause.InnerException)
        {
            if (cause is TimeoutException)
            {
                return true;
            }
        }

        return false;
    }
}
