using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests;

/// <summary>
/// The NATS transport over TLS against a real nats-server started with a throw-away self-signed certificate: the official
/// client's TLS, configured through the transport's <see cref="NatsOpts"/> callback.
/// </summary>
public sealed class TlsTests : IAsyncLifetime
{
    // The process's first TLS handshake loads OpenSSL and the system store: seconds on a loaded machine.
    private const int ConnectTimeoutMs = 20_000;

    private readonly string _directory = Directory.CreateTempSubdirectory("nats-tls-").FullName;
    private string _certFile = null!;
    private NatsServerProcess _server = null!;

    public async Task InitializeAsync()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        _certFile = Path.Combine(_directory, "server.pem");
        var keyFile = Path.Combine(_directory, "server-key.pem");
        await File.WriteAllTextAsync(_certFile, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        _server = await NatsServerProcess.StartAsync("--tls", "--tlscert", _certFile, "--tlskey", keyFile);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private string Uri(string scheme) => $"{scheme}://127.0.0.1:{_server.Port}?connect-timeout-ms={ConnectTimeoutMs}";

    [Theory]
    [InlineData("tls")]
    [InlineData("nats")] // upgraded because the server's INFO says tls_required
    public async Task Publish_and_consume_over_tls(string scheme)
    {
        var transport = new NatsTransport(opts => opts with { TlsOpts = opts.TlsOpts with { CaFile = _certFile } });
        await using var connection = await transport.ConnectAsync(new ConnectionRequest(Uri(scheme), "tls-test"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await connection.BindAsync(new BindingSpec("secure", "q", BindingDestinationKind.Queue, "x"), noWait: false, CancellationToken.None);
        var received = Channel.CreateUnbounded<Delivery>();
        await using var consumer = await connection.ConsumeAsync("q", new ConsumerOptions(10), (d, _) => { received.Writer.TryWrite(d); return ValueTask.CompletedTask; }, CancellationToken.None);
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        await publisher.PublishAsync("secure", "x", new MessageProperties { Headers = new() { ["K"] = "v" } }, "over tls"u8.ToArray(), CancellationToken.None);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var delivery = await received.Reader.ReadAsync(timeout.Token);
        Assert.Equal("over tls", Encoding.UTF8.GetString(delivery.Body.Span));
        Assert.Equal("v", delivery.Properties.Headers!["K"]);
    }

    [Fact]
    public async Task An_untrusted_server_certificate_is_refused_by_default()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(
            async () => await new NatsTransport().ConnectAsync(new ConnectionRequest(Uri("tls"), "tls-test"), CancellationToken.None));
        Assert.Contains(_server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Contains("certificate", error.Message, StringComparison.OrdinalIgnoreCase); // the cause, not only "could not connect"
    }
}
