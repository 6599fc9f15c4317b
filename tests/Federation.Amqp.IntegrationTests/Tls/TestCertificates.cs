using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Amqp.IntegrationTests.Tls;

/// <summary>
/// PEM files generated in-process with <see cref="CertificateRequest"/> (no openssl): a CA, a server certificate for
/// 127.0.0.1 and localhost signed by it, a client certificate whose common name is a broker user, and an unrelated CA.
/// </summary>
public sealed class TestCertificates
{
    private TestCertificates(string directory) => Directory = directory;

    /// <summary>The directory holding the files.</summary>
    public string Directory { get; }

    /// <summary>The CA that signs the server and client certificates.</summary>
    public string CaFile => Path.Combine(Directory, "ca.pem");

    /// <summary>A CA that signed nothing here.</summary>
    public string OtherCaFile => Path.Combine(Directory, "other-ca.pem");

    /// <summary>The server certificate (SAN 127.0.0.1, localhost).</summary>
    public string ServerCertFile => Path.Combine(Directory, "server.pem");

    /// <summary>The server certificate's private key.</summary>
    public string ServerKeyFile => Path.Combine(Directory, "server.key");

    /// <summary>The client certificate (CN = <see cref="ClientUser"/>).</summary>
    public string ClientCertFile => Path.Combine(Directory, "client.pem");

    /// <summary>The client certificate's private key.</summary>
    public string ClientKeyFile => Path.Combine(Directory, "client.key");

    /// <summary>The common name of the client certificate: the user EXTERNAL logs in as.</summary>
    public const string ClientUser = "tls-client";

    /// <summary>Generates every file into <paramref name="directory"/>.</summary>
    public static TestCertificates Create(string directory)
    {
        var files = new TestCertificates(directory);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = CreateCa("Federation test CA", caKey);
        using var otherCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherCa = CreateCa("Unrelated test CA", otherCaKey);
        File.WriteAllText(files.CaFile, ca.ExportCertificatePem());
        File.WriteAllText(files.OtherCaFile, otherCa.ExportCertificatePem());

        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        WriteLeaf(ca, "CN=localhost", names.Build(), "1.3.6.1.5.5.7.3.1", files.ServerCertFile, files.ServerKeyFile, serial: 2);
        WriteLeaf(ca, $"CN={ClientUser}", null, "1.3.6.1.5.5.7.3.2", files.ClientCertFile, files.ClientKeyFile, serial: 3);
        return files;
    }

    private static X509Certificate2 CreateCa(string name, ECDsa key)
    {
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static void WriteLeaf(X509Certificate2 ca, string subject, X509Extension? names, string usage, string certFile, string keyFile, byte serial)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (names is not null)
        {
            request.CertificateExtensions.Add(names);
        }

        using var certificate = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(29), [serial, 0x42]);
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
    }
}
