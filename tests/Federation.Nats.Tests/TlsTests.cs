using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Federation.Nats.Client;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests;

/// <summary>TLS against a real nats-server started with a throw-away self-signed certificate.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("nats-tls-").FullName;
    private X509Certificate2 _certificate = null!;
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certFile = Path.Combine(_directory, "server.pem");
        var keyFile = Path.Combine(_directory, "server-key.pem");
        await File.WriteAllTextAsync(certFile, _certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        _server = await NatsServerProcess.StartAsync("--tls", "--tlscert", certFile, "--tlskey", keyFile);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private NatsClientOptions Options(string scheme, bool trustOurCertificate) => new()
    {
        Servers = [$"{scheme}://127.0.0.1:{_server.Port}"],
        ConnectTimeout = TimeSpan.FromSeconds(20), // the process's first TLS handshake loads OpenSSL and the system store: seconds on a loaded machine
        Tls = trustOurCertificate
            ? new TlsOptions { ServerCertificateValidation = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == _certificate.GetCertHashString() }
            : null,
    };

    [Theory]
    [InlineData("tls")]
    [InlineData("nats")] // upgraded because the server's INFO says tls_required
    public async Task Publish_and_subscribe_over_tls(string scheme)
    {
        await using var connection = new NatsConnection(Options(scheme, trustOurCertificate: true));
        await connection.ConnectAsync();
        Assert.True(connection.ServerInfo!.TlsRequired);
        await using var subscription = await connection.SubscribeAsync("secure.x");
        await connection.PublishAsync("secure.x", "over tls"u8.ToArray(), new NatsHeaders().Add("K", "v"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var message = await subscription.ReadAsync(cts.Token);
        Assert.Equal("over tls", Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal("v", message.Headers!["k"]);
    }

    [Fact]
    public async Task An_untrusted_server_certificate_is_refused_by_default()
    {
        await using var connection = new NatsConnection(Options("tls", trustOurCertificate: false));
        var error = await Assert.ThrowsAsync<NatsException>(() => connection.ConnectAsync().AsTask());
        Assert.IsType<AuthenticationException>(error.InnerException);
    }
}
