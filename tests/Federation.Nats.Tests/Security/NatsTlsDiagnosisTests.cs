using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Federation.Nats.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Security;

/// <summary>
/// The certificate-check watch (<see cref="NatsTlsDiagnosis"/>) without a server: it must not change which TLS mode the
/// client picks, and <see cref="NatsCertificateRejection"/> names a cause the lab's servers do not show (a certificate
/// that is not valid yet). The causes against real servers are in <see cref="NatsTransportSecurityTests"/>.
/// </summary>
public sealed class NatsTlsDiagnosisTests
{
    [Theory]
    [InlineData("nats://127.0.0.1:4222", TlsMode.Prefer)] // the client's Auto for nats:// without TLS files: TLS if offered
    [InlineData("tls://127.0.0.1:4222", TlsMode.Require)]
    public void Auto_is_resolved_as_the_client_resolves_it_without_the_hook(string url, TlsMode expected)
    {
        var watched = new NatsTlsDiagnosis().Watch(NatsTlsOpts.Default, url);

        Assert.Equal(expected, watched.Mode);
        Assert.NotNull(watched.ConfigureClientAuthentication);
    }

    [Fact]
    public void Auto_with_a_tls_file_requires_tls_and_an_explicit_mode_is_kept()
    {
        var diagnosis = new NatsTlsDiagnosis();

        Assert.Equal(TlsMode.Require, diagnosis.Watch(NatsTlsOpts.Default with { CaFile = "ca.pem" }, "nats://h:4222").Mode);
        Assert.Equal(TlsMode.Implicit, diagnosis.Watch(NatsTlsOpts.Default with { Mode = TlsMode.Implicit }, "nats://h:4222").Mode);
        var disabled = NatsTlsOpts.Default with { Mode = TlsMode.Disable };
        Assert.Same(disabled, diagnosis.Watch(disabled, "tls://h:4222"));
    }

    [Fact]
    public async Task The_users_hook_runs_first_and_its_check_decides()
    {
        var diagnosis = new NatsTlsDiagnosis();
        var userRan = false;
        var tls = diagnosis.Watch(
            NatsTlsOpts.Default with
            {
                ConfigureClientAuthentication = options =>
                {
                    userRan = true;
                    options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
                    return ValueTask.CompletedTask;
                },
            },
            "tls://h:4222");
        var options = new SslClientAuthenticationOptions { TargetHost = "h" };

        await tls.ConfigureClientAuthentication!(options);

        Assert.True(userRan);
        Assert.True(options.RemoteCertificateValidationCallback!(this, null, null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.Null(diagnosis.Rejection);
    }

    [Fact]
    public void A_certificate_not_valid_yet_is_named_with_the_time_it_starts()
    {
        var now = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=future.federation.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("future.federation.test");
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(now.AddDays(1), now.AddDays(2));
        var caFile = Path.Combine(Directory.CreateTempSubdirectory("nats-tls-diagnosis-").FullName, "ca.pem");
        File.WriteAllText(caFile, certificate.ExportCertificatePem());
        try
        {
            var described = NatsCertificateRejection.Describe(certificate, null, SslPolicyErrors.RemoteCertificateChainErrors, "future.federation.test", caFile, now);

            Assert.Equal("not yet valid: the certificate 'CN=future.federation.test' is valid from 2030-01-02 00:00:00Z (is this machine's clock right?)", described);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(caFile)!, recursive: true);
        }
    }
}
