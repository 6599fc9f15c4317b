using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using RabbitMQ.Client;

namespace Federation.Amqp;

/// <summary>
/// The socket RabbitMQ.Client connects through (its <see cref="ConnectionFactoryBase.SocketFactory"/>): the client's
/// own behaviour, plus TLS done here and a <see cref="GuardedNetworkStream"/> that checks what the broker sends before
/// the client parses it.
/// </summary>
/// <remarks>
/// TLS is done here rather than by the client because the client would put it over the stream this returns, and the
/// guard must see the bytes after decryption. The TLS settings are the client's: its certificate selection (an issuer
/// the server accepts, else the first certificate), no revocation check, the system's protocol versions.
/// </remarks>
internal sealed class GuardedTcpClient : ITcpClient
{
    private readonly Socket socket;
    private readonly SslClientAuthenticationOptions? tls;
    private readonly UnreadableDeliveries? unreadable;
    private SslStream? session;

    private GuardedTcpClient(Socket socket, SslClientAuthenticationOptions? tls, UnreadableDeliveries? unreadable)
    {
        this.socket = socket;
        this.tls = tls;
        this.unreadable = unreadable;
    }

    /// <inheritdoc/>
    public bool Connected => socket.Connected;

    /// <inheritdoc/>
    public TimeSpan ReceiveTimeout
    {
        get => TimeSpan.FromMilliseconds(socket.ReceiveTimeout);
        set => socket.ReceiveTimeout = (int)value.TotalMilliseconds;
    }

    /// <inheritdoc/>
    public Socket Client => socket;

    /// <summary>
    /// A socket factory for RabbitMQ.Client that guards every connection, and does TLS with <paramref name="tls"/> when
    /// given (the client's own TLS must then be off). With <paramref name="unreadable"/>, an unreadable content header
    /// is defused and recorded there instead of failing the connection (<see cref="InboundFrameDefuser"/>).
    /// </summary>
    public static Func<AddressFamily, ITcpClient> Factory(SslClientAuthenticationOptions? tls, UnreadableDeliveries? unreadable = null) =>
        family => new GuardedTcpClient(new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }, tls, unreadable);

    /// <summary>The TLS settings RabbitMQ.Client would use, for <paramref name="serverName"/>.</summary>
    public static SslClientAuthenticationOptions TlsOptions(string serverName, RemoteCertificateValidationCallback validate, X509CertificateCollection? clientCertificates) =>
        new()
        {
            TargetHost = serverName,
            RemoteCertificateValidationCallback = validate,
            ClientCertificates = clientCertificates,
            LocalCertificateSelectionCallback = SelectClientCertificate,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };

    /// <inheritdoc/>
    public async Task ConnectAsync(IPAddress host, int port, CancellationToken cancellationToken = default)
    {
        await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
        if (tls is null)
        {
            return;
        }

        var stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await stream.AuthenticateAsClientAsync(tls, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        session = stream;
    }

    /// <inheritdoc/>
    public NetworkStream GetStream() => new GuardedNetworkStream(socket, session, unreadable);

    /// <inheritdoc/>
    public void Close()
    {
        session?.Dispose();
        socket.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose() => Close();

    private static X509Certificate SelectClientCertificate(object sender, string targetHost, X509CertificateCollection localCertificates, X509Certificate? remoteCertificate, string[] acceptableIssuers)
    {
        foreach (X509Certificate certificate in localCertificates)
        {
            if (Array.IndexOf(acceptableIssuers, certificate.Issuer) >= 0)
            {
                return certificate;
            }
        }

        // Null is what a callback returns for "no certificate"; the delegate's annotation does not say so.
        return localCertificates.Count > 0 ? localCertificates[0] : null!;
    }
}
