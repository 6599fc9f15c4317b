using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Federation.Core.Transport;
using OpenSslCertificates = Federation.Testing.Brokers.TestCertificates;

namespace Federation.Amqp.IntegrationTests.Tls;

/// <summary>
/// What an operator reads when a TLS listener's certificate is refused, for the AMQP connection and for the management
/// API over https. A black-box run of FederationHost found an expired broker certificate reported as "not signed by a CA
/// in cacertfile (NotTimeValid)", which sends the operator to the CA file, and any certificate the management API
/// refused reported only as "The SSL connection could not be established, see inner exception". A loopback
/// <see cref="SslStream"/> listener presents the certificates that <c>openssl</c> made, so no broker is needed: both
/// failures happen in the handshake.
/// </summary>
public sealed class ServerCertificateDiagnosisTests : IAsyncLifetime
{
    private const string Password = "Diag-s3cr3t-pw";
    private readonly string directory = Directory.CreateTempSubdirectory("amqp-cert-diagnosis-").FullName;
    private readonly CancellationTokenSource timeout = new(TimeSpan.FromMinutes(1));
    private OpenSslCertificates certificates = null!;

    public async Task InitializeAsync() => certificates = await OpenSslCertificates.CreateAsync(directory, timeout.Token);

    public Task DisposeAsync()
    {
        timeout.Dispose();
        Directory.Delete(directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_expired_server_certificate_is_named_expired_not_unsigned()
    {
        await using var listener = TlsListener.Start(certificates.ExpiredServerCertFile, certificates.ServerKeyFile);

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
        {
            await using var connection = await new AmqpTransport().ConnectAsync(
                new ConnectionRequest(AmqpsUri(listener.Port, $"cacertfile={System.Uri.EscapeDataString(certificates.CaCertFile)}"), "cert-diagnosis"), timeout.Token);
        });

        Assert.Contains("expired: the server certificate 'CN=", error.Message, StringComparison.Ordinal);
        Assert.Contains("was valid until 2020-01-0", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not signed by a CA", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_management_api_over_https_names_why_it_refused_the_certificate()
    {
        await using var listener = TlsListener.Start(certificates.ExpiredServerCertFile, certificates.ServerKeyFile);
        using var management = new ManagementApi(AmqpEndpoint.Parse(
            AmqpsUri(5671, $"management-port={listener.Port.ToString(CultureInfo.InvariantCulture)}&cacertfile={System.Uri.EscapeDataString(certificates.CaCertFile)}")));

        var error = await Assert.ThrowsAnyAsync<TransportException>(async () => await management.ReadTopologyAsync(timeout.Token));

        Assert.Contains("expired: the server certificate 'CN=", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("see inner exception", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_management_api_over_https_names_a_ca_that_did_not_sign_the_certificate()
    {
        await using var listener = TlsListener.Start(certificates.ServerCertFile, certificates.ServerKeyFile);
        using var management = new ManagementApi(AmqpEndpoint.Parse(
            AmqpsUri(5671, $"management-port={listener.Port.ToString(CultureInfo.InvariantCulture)}&cacertfile={System.Uri.EscapeDataString(certificates.UntrustedCaCertFile)}")));

        var error = await Assert.ThrowsAnyAsync<TransportException>(async () => await management.ReadTopologyAsync(timeout.Token));

        Assert.Contains("is not signed by a CA in cacertfile", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("see inner exception", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    private static string AmqpsUri(int port, string query) =>
        $"amqps://guest:{Password}@127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/?connection_timeout=5000&management-timeout=5000&{query}";

    /// <summary>Accepts TLS connections on a free loopback port with one certificate, until disposed.</summary>
    private sealed class TlsListener : IAsyncDisposable
    {
        private readonly TcpListener listener;
        private readonly X509Certificate2 certificate;
        private readonly CancellationTokenSource stop = new();
        private readonly Task accepting;

        private TlsListener(TcpListener listener, X509Certificate2 certificate)
        {
            this.listener = listener;
            this.certificate = certificate;
            accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

        public static TlsListener Start(string certFile, string keyFile)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return new TlsListener(listener, X509Certificate2.CreateFromPemFile(certFile, keyFile));
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            listener.Stop();
            await accepting;
            certificate.Dispose();
            stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync(stop.Token);
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return;
                }

                _ = HandshakeAsync(client);
            }
        }

        private async Task HandshakeAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    await using var tls = new SslStream(client.GetStream());
                    await tls.AuthenticateAsServerAsync(certificate, clientCertificateRequired: false, checkCertificateRevocation: false);
                }
                catch (Exception error) when (error is IOException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
                {
                    // The client refused the certificate: that is the point.
                }
            }
        }
    }
}
